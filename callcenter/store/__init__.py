"""Persistence: SQLAlchemy models, migrations, and the event log writer."""
