"""queues API area: routes and models."""
