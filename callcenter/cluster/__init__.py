"""Several PBXs, one database: how their daemons share the live state, and how a queue
name that repeats across servers is shown (docs/decisions/0017-one-wallboard.md)."""
