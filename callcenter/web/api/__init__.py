"""The API's contract machinery: routes declared once (``endpoint``) with pydantic models
(``types`` for their fields), validated, answered and documented (``document``) from
that one declaration."""

from callcenter.web.api.endpoint import Endpoint, PathParam, Reply, endpoint

PREFIX = "/api/v1"

__all__ = ["PREFIX", "Endpoint", "PathParam", "Reply", "endpoint"]
