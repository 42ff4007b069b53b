"""The call detail: the rows behind every figure, with filters and an export."""
