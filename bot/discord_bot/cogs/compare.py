"""``/compare member_a member_b``: how alike two members of this server sound.

Works from each member's latest stored note (analysed earlier in this server); the
service words every outcome, including "no note yet". Server-only: DMs have one member.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_

from ...service import RapService
from ..common import language_of, member_of, send_followup


class CompareCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service

    @app_commands.command(name="compare", description=N_("How alike do two members sound?"))
    @app_commands.describe(member_a=N_("First member"), member_b=N_("Second member"))
    @app_commands.guild_only()
    async def compare(
        self,
        interaction: discord.Interaction,
        member_a: discord.Member,
        member_b: discord.Member,
    ) -> None:
        await interaction.response.defer(thinking=True)  # the comparison image takes a moment
        guild_id = interaction.guild_id
        a, b = member_of(member_a, guild_id), member_of(member_b, guild_id)
        reply = await self.service.compare(a, b, language=language_of(self.service, interaction))
        await send_followup(interaction, reply)
