"""Asterisk configuration rendered from the callcenter config (one source of truth)."""

from callcenter.dialplan.contract import CONTRACT_NAME, contract_text
from callcenter.dialplan.render import render_files, render_queues, render_routes

__all__ = ["CONTRACT_NAME", "contract_text", "render_files", "render_queues", "render_routes"]
