"""Rap Simulator bots: one platform-neutral service (``bot.service``) behind thin adapters.

Data flow: a platform adapter (``bot.discord_bot``, ``bot.telegram_bot``) turns a chat
event into a call on :class:`bot.service.RapService`; the service checks limits, hands
audio to an :class:`bot.pool.InferencePool` (worker processes that run ``inference``),
keeps member profiles in :class:`bot.store.ProfileStore` and writes the replies.

Nothing in this package imports torch, and nothing but ``bot.worker`` (which runs inside
the worker processes) imports ``inference``: the event loop never runs inference.
"""
