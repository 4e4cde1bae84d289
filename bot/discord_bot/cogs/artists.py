"""``/artists [page]``: the catalogue, a page at a time, with Previous/Next buttons.

Pages come from :meth:`RapService.artist_pages` (text with a header line); this cog only
chooses the page and keeps the buttons in step. The buttons stop after a few minutes and
are then removed from the message, so nobody presses a dead button.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_, say

from ...service import RapService
from ..common import clip, language_of

log = logging.getLogger(__name__)

PAGER_TIMEOUT_S = 300.0
EMPTY_CATALOGUE = N_("The artist catalogue is empty.")


class ArtistPager(discord.ui.View):
    """Previous/Next over fixed text pages; anyone in the channel may turn them."""

    def __init__(
        self,
        pages: list[str],
        index: int,
        *,
        timeout: float = PAGER_TIMEOUT_S,
        language: str = "en",
    ) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.index = index
        self.origin: discord.Interaction | None = None  # to remove the buttons on timeout
        self.previous.label = say(N_("Previous"), language)
        self.next.label = say(N_("Next"), language)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.index <= 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync_buttons()
        await interaction.response.edit_message(content=clip(self.pages[self.index]), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)

    async def on_timeout(self) -> None:
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(view=None)
        except discord.HTTPException as e:
            log.debug("could not remove the artist buttons: %s", e)


class ArtistsCog(commands.Cog):
    per_page = 20  # artists per page; well under Discord's 2000 characters

    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service

    @app_commands.command(name="artists", description=N_("The artists I compare voices with"))
    @app_commands.describe(page=N_("Page number (starts at 1)"))
    async def artists(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        lang = language_of(self.service, interaction)
        pages = self.service.artist_pages(self.per_page, lang)
        if not pages:
            await interaction.response.send_message(say(EMPTY_CATALOGUE, lang))
            return
        index = min(page, len(pages)) - 1
        if len(pages) == 1:
            await interaction.response.send_message(clip(pages[index]))
            return
        view = ArtistPager(pages, index, language=lang)
        await interaction.response.send_message(clip(pages[index]), view=view)
        view.origin = interaction
