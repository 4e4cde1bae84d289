"""The Telegram adapter: aiogram 3 long polling in front of :class:`bot.service.RapService`.

``run_telegram(settings)`` runs the bot; ``build_dispatcher(service, settings)`` gives the
Dispatcher alone (tests drive it against a fake Bot API server). The adapter only turns
Telegram updates into service calls and posts the replies; see ``handlers`` and ``media``.
"""

from .runner import build_dispatcher, make_bot, run_telegram, serve

__all__ = ["build_dispatcher", "make_bot", "run_telegram", "serve"]
