"""The incident API: its routes (``routes``, ``second_line``) and models (``models``)."""

from callcenter.web.incidents.routes import IncidentRoutes
from callcenter.web.incidents.second_line import SecondLineRoutes

AREAS = (IncidentRoutes, SecondLineRoutes)

__all__ = ["AREAS", "IncidentRoutes", "SecondLineRoutes"]
