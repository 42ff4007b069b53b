"""calls API area: routes and models."""
