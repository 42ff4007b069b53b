"""Asterisk configuration rendered from the callcenter config (one source of truth)."""

from callcenter.dialplan.render import render_files, render_queues, render_routes

__all__ = ["render_files", "render_queues", "render_routes"]
