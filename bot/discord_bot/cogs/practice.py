"""Practice over time: ``/target``, ``/progress``, ``/leaderboard`` and ``/share``.

Artist options autocomplete from the catalogue the workers serve. ``/target`` and
``/share`` answer only the caller (ephemeral: it is their own setting); ``/progress``
defers (the chart takes a moment) and posts the chart where it was asked for;
``/leaderboard`` and ``/share`` work in a server only. Every answer is the service's.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_

from ...practice.desk import artist_choices
from ...service import RapService
from ..common import clip, invoker, send_followup

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices


class PracticeCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service

    async def _artists(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = artist_choices(self.service.practice.artist_names(), current, MAX_CHOICES)
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names]

    async def _answer(
        self, interaction: discord.Interaction, text: str, *, ephemeral: bool
    ) -> None:
        await interaction.response.send_message(clip(text), ephemeral=ephemeral)

    @app_commands.command(
        name="target", description=N_("Set, show or clear your target: an artist or a timing goal")
    )
    @app_commands.describe(
        artist=N_("An artist, 'tight', 'tight <ms>', 'pocket <ms>' or 'clear'; empty: show it")
    )
    async def target(self, interaction: discord.Interaction, artist: str = "") -> None:
        member = invoker(interaction)
        lang = await self.service.language_of(member, remember=True)
        reply = await self.service.practice.target(member, artist, lang)
        await self._answer(interaction, reply.text, ephemeral=True)

    @target.autocomplete("artist")
    async def _target_artists(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._artists(interaction, current)

    @app_commands.command(
        name="progress", description=N_("A chart of your takes against your target")
    )
    async def progress(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        member = invoker(interaction)
        lang = await self.service.language_of(member, remember=True)
        await send_followup(interaction, await self.service.practice.progress(member, lang))

    @app_commands.command(
        name="leaderboard",
        description=N_("Who here came closest to an artist this week (members who share)"),
    )
    @app_commands.describe(artist=N_("An artist of the catalogue"))
    @app_commands.guild_only()
    async def leaderboard(self, interaction: discord.Interaction, artist: str) -> None:
        member = invoker(interaction)
        lang = await self.service.language_of(member)
        reply = await self.service.practice.leaderboard(member, artist, lang)
        await self._answer(interaction, reply.text, ephemeral=not reply.ok)

    @leaderboard.autocomplete("artist")
    async def _leaderboard_artists(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._artists(interaction, current)

    @app_commands.command(
        name="share", description=N_("Show your best takes on this server's leaderboards")
    )
    @app_commands.describe(state=N_("on or off; empty: show it"))
    @app_commands.guild_only()
    async def share(
        self, interaction: discord.Interaction, state: Literal["on", "off"] | None = None
    ) -> None:
        member = invoker(interaction)
        lang = await self.service.language_of(member, remember=True)
        reply = await self.service.practice.share(member, state or "", lang)
        await self._answer(interaction, reply.text, ephemeral=True)
