"""What every Discord cog shares: members, attachments, message limits and safe sending.

These helpers turn discord.py objects into :mod:`bot.service` calls and a
:class:`~bot.service.Reply` back into Discord messages. They hold no wording of their own
beyond the few sentences only Discord causes (a failed download, a message without audio,
a bot's message, an apology); every other sentence comes from the service. Interactions
carry the member's locale; messages do not, so the service falls back to the locale it
remembered from the member's last command, then to the server's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from io import BytesIO
from typing import Any

import discord

from i18n import N_, language_for, say

from ..member import Member
from ..service import RapService, Reply

log = logging.getLogger(__name__)

PLATFORM = "discord"
TYPING_REFRESH_S = 8.0  # one typing call shows for about 10 s
MAX_CONTENT = 2000  # Discord rejects message content longer than this (characters)
APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a minute.")
DOWNLOAD_FAILED = N_("I couldn't download that file from Discord; please send it again.")
NO_AUDIO_IN_MESSAGE = N_("That message has no voice note or audio file for me to analyse.")
BOT_AUTHOR = N_("I only analyse members' notes, not bots'.")


def clip(text: str, limit: int = MAX_CONTENT) -> str:
    """``text`` cut to Discord's limit, ending in an ellipsis when something was cut."""
    text = text or "\u200b"  # Discord refuses an empty message that has no file
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Prefer ending at a line break so a table row or a sentence is not cut in half.
    newline = cut.rfind("\n")
    if newline > limit // 2:
        cut = cut[:newline]
    return cut.rstrip() + "…"


def scope_of(guild_id: int | None, user: discord.abc.User) -> str:
    """The service's scope: the guild, or the member's own DM space."""
    return str(guild_id) if guild_id is not None else f"dm:{user.id}"


def member_of(
    user: discord.abc.User,
    guild_id: int | None,
    *,
    locale: object = "",
    guild_locale: object = "",
) -> Member:
    """The service's member; ``locale``: the user's (an interaction's ``locale``), ""
    for a message; ``guild_locale``: the server's preferred locale, the last fallback."""
    return Member(
        platform=PLATFORM,
        scope=scope_of(guild_id, user),
        member_id=str(user.id),
        display_name=user.display_name,
        handle=user.name,
        locale=str(locale or ""),
        scope_locale=str(guild_locale or ""),
    )


def invoker(interaction: discord.Interaction) -> Member:
    """Who used an application command, with the locale their client sent."""
    return member_of(
        interaction.user,
        interaction.guild_id,
        locale=interaction.locale,
        guild_locale=interaction.guild_locale,
    )


def language_of(service: RapService, interaction: discord.Interaction) -> str:
    """The language to answer an interaction in (no store lookup: it carries a locale)."""
    return service.settings.language or language_for(str(interaction.locale))


def pick_audio(
    service: RapService, attachments: Sequence[discord.Attachment]
) -> discord.Attachment | None:
    """The first attachment that is a voice message or looks like audio (or video) by type."""
    for attachment in attachments:
        if attachment.is_voice_message():
            return attachment
    for attachment in attachments:
        # size=None: only the kind of file is asked here; size and length are checked later.
        refusal = service.check_upload(
            size=None, filename=attachment.filename, mime=attachment.content_type
        )
        if refusal is None:
            return attachment
    return None


def refusal_for(
    service: RapService, attachment: discord.Attachment, language: str = "en"
) -> str | None:
    """Why this attachment must not be downloaded, from its metadata alone; None if fine."""
    return service.check_upload(
        size=attachment.size,
        filename=attachment.filename,
        mime=attachment.content_type,
        duration=attachment.duration,
        language=language,
    )


async def analyze_attachment(
    service: RapService, member: Member, attachment: discord.Attachment, language: str
) -> Reply:
    """Check the metadata, download, analyse. Never raises for the member's mistakes."""
    refusal = refusal_for(service, attachment, language)
    if refusal is not None:
        return Reply(refusal, ok=False)
    try:
        audio = await attachment.read()
    except discord.HTTPException as e:
        # Expired or deleted attachments answer 403/404; Discord outages 5xx.
        log.warning("attachment %s download failed: %s", attachment.id, e)
        return Reply(say(DOWNLOAD_FAILED, language), ok=False)
    return await service.analyze(
        member, audio, attachment.filename, attachment.content_type, language=language
    )


def reply_file(reply: Reply) -> discord.File | None:
    if reply.image_png is None:
        return None
    return discord.File(BytesIO(reply.image_png), filename=reply.image_name)


def message_kwargs(reply: Reply) -> dict[str, Any]:
    """``content`` and, when there is an image, ``file``: for send, reply and followups."""
    kwargs: dict[str, Any] = {"content": clip(reply.text)}
    file = reply_file(reply)
    if file is not None:
        kwargs["file"] = file
    return kwargs


async def send_followup(
    interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False
) -> None:
    """Answer a deferred interaction with the reply's text and image."""
    await interaction.followup.send(**message_kwargs(reply), ephemeral=ephemeral)


async def answer_safely(interaction: discord.Interaction, text: str) -> None:
    """Answer an interaction whatever state it is in; a failure to answer is only logged."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(clip(text), ephemeral=True)
        else:
            await interaction.response.send_message(clip(text), ephemeral=True)
    except discord.HTTPException as e:
        log.warning("could not answer interaction %s: %s", interaction.id, e)


@asynccontextmanager
async def typing_in(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "typing..." while the body runs. Best effort: a channel that forbids it (or a
    Discord hiccup) costs the hint only, never the answer (discord.py's ``typing()`` raises).
    """
    task = asyncio.create_task(_keep_typing(channel)) if await _type_once(channel) else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()


async def _type_once(channel: discord.abc.Messageable) -> bool:
    try:
        await channel.typing()
    except discord.HTTPException as e:
        log.debug("typing indicator refused: %s", e)
        return False
    return True


async def _keep_typing(channel: discord.abc.Messageable) -> None:
    while True:
        await asyncio.sleep(TYPING_REFRESH_S)
        if not await _type_once(channel):
            return
