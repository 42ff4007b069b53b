"""The reports API: the monthly report in every form, on request or as kept."""
