"""Call figures (docs/metrics.md): pure over call records, or aggregated in SQL."""

from callcenter.metrics.figures import (
    GROUPINGS,
    CallFigures,
    Grouping,
    GroupKey,
    Target,
    combine,
    compute_figures,
    compute_grouped,
    group_key,
    key_label,
)
from callcenter.metrics.query import query_figures, query_figures_by, query_figures_by_keys
from callcenter.metrics.sql import check_day, figures_statement

__all__ = [
    "GROUPINGS",
    "CallFigures",
    "GroupKey",
    "Grouping",
    "Target",
    "check_day",
    "combine",
    "compute_figures",
    "compute_grouped",
    "figures_statement",
    "group_key",
    "key_label",
    "query_figures",
    "query_figures_by",
    "query_figures_by_keys",
]
