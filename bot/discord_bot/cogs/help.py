"""``/help``: the service's help text, shown only to the caller."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_

from ...service import RapService
from ..common import clip, language_of


class HelpCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service

    @app_commands.command(name="help", description=N_("What I do and how to use me"))
    async def help(self, interaction: discord.Interaction) -> None:
        text = self.service.help_text(language=language_of(self.service, interaction))
        await interaction.response.send_message(clip(text), ephemeral=True)
