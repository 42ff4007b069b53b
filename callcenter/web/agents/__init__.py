"""agents API area: routes and models."""
