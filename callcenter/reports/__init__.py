"""Reports for SLA auditors: the monthly operations report."""
