"""Rap Simulator bots: one platform-neutral service behind thin platform adapters.

Rooms, top to bottom (imports only go down; ``tests/test_layout.py`` checks it):

- ``discord_bot/``, ``telegram_bot/``: the platforms. Chat events in, :class:`bot.reply.Reply`
  out; no logic beyond their platform's API.
- ``app.py`` (wiring from settings), ``service.py`` (:class:`bot.service.RapService`: upload
  checks, per-member limits, profiles) and ``replies.py`` (its words).
- ``practice/``: targets, progress charts, leaderboards (the service's practice desk).
- ``pool/``: where analysis runs: worker processes on this machine, or workers on other
  machines over Redis (broker, wire format); the only room that imports ``inference``,
  and only inside the worker processes.
- ``store/``: what is kept of members in SQLite (profiles, practice history, schema).
- Shared below them all: ``settings``, ``member``, ``errors``, ``limits``, ``jobs`` (the
  plain data the service and the pool exchange), ``reply``.

Nothing in this package imports torch, and the event loop never runs inference.
"""
