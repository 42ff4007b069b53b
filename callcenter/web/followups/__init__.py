"""The follow-up list: callers not reached yet, call-backs and their results."""
