"""``/forget``: delete every voice profile kept about the caller, in every server and DM.

The answer is ephemeral (only the caller sees it). Profiles, the practice history, the
target, the remembered locale and leaderboard sharing are all the bot keeps; audio is
never stored, so there is nothing else to delete.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_

from ...service import RapService
from ..common import PLATFORM, clip, language_of


class ForgetCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service

    @app_commands.command(
        name="forget", description=N_("Delete everything I keep about your voice")
    )
    async def forget(self, interaction: discord.Interaction) -> None:
        # A few SQLite deletes: well inside Discord's 3 s, so no defer.
        lang = language_of(self.service, interaction)
        reply = await self.service.forget(PLATFORM, str(interaction.user.id), lang)
        await interaction.response.send_message(clip(reply.text), ephemeral=True)
