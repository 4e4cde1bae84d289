"""The Discord adapter: :class:`RapBot` and :func:`run_discord`.

The adapter turns Discord events into :class:`~bot.service.RapService` calls and posts the
replies; it holds no analysis, storage or wording of its own. See :mod:`.client` for the
intents it asks for and why.
"""

from __future__ import annotations

from ..settings import Settings
from .client import RapBot, RapTree


async def run_discord(settings: Settings, *, sync: bool = False) -> None:
    """Run the bot until it is stopped; ``sync=True`` publishes the commands once at start.

    The token is validated first (a missing or malformed one is a ``SettingsError``,
    before any network access or worker start).
    """
    token = settings.require_discord_token()
    async with RapBot(settings, sync_commands=sync) as bot:
        await bot.start(token)


__all__ = ["RapBot", "RapTree", "run_discord"]
