"""Owner-only text commands, typed as a mention (``@Bot sync``), no MESSAGE_CONTENT needed.

``sync`` publishes the application commands to Discord. Syncing is an explicit owner
action (here, or ``run_discord(sync=True)``), never done on every start: Discord
rate-limits it and a sync from a stale build would withdraw commands.
"""

from __future__ import annotations

import logging

from discord.ext import commands

log = logging.getLogger(__name__)


class AdminCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context[commands.Bot]) -> None:
        synced = await self.bot.tree.sync()
        log.info("owner %s synced %d application commands", ctx.author.id, len(synced))
        await ctx.reply(f"Synced {len(synced)} application commands.")
