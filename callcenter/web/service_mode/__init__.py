"""service_mode API area: routes and models."""
