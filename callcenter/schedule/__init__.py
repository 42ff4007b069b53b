"""Service hours: the business calendar, the service mode the dialplan reads, and its keeper.

- ``callcenter.schedule.rules``: parse the ``[service]`` settings (pure; used by config).
- ``callcenter.schedule.calendar``: ``BusinessCalendar`` (open or closed at an instant,
  boundaries, business seconds between two instants).
- ``callcenter.schedule.mode``: ``ModeDecision``/``Override`` and the asyncio
  ``ModeKeeper`` that writes AstDB ``callcenter/mode`` and ``callcenter/mode_until``.

- ``callcenter.schedule.settings``: the ``[service]`` section (``ServiceConfig``).

Nothing is imported here, so the settings can use the rules without pulling in the
holiday tables or the scheduler.
"""
