"""figures API area: routes and models."""
