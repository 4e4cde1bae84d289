"""The Discord objects of the fake Discord: one guild, its channels, users and payloads.

:class:`DiscordWorld` builds the JSON that Discord's API v10 sends (users, members, the
guild, messages, attachments, interactions) with just the fields discord.py 2.7 reads, and
serves nothing itself: :class:`tests.fakes.discord_server.FakeDiscord` adds the server.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6  # message flag
VOICE_MESSAGE = 1 << 13  # message flag IS_VOICE_MESSAGE
ALL_PERMISSIONS = str((1 << 50) - 1)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class DiscordWorld:
    """One guild with two text channels, a DM channel, one bot and the users tests add."""

    APP_ID = 900000000000000001
    BOT_ID = 900000000000000002
    GUILD_ID = 900000000000000003
    CHANNEL_ID = 900000000000000004  # listed in the bot's discord_channels by the tests
    OTHER_CHANNEL_ID = 900000000000000005  # a channel the bot does not listen in
    DM_CHANNEL_ID = 900000000000000006
    OWNER_ID = 900000000000000007

    def __init__(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}  # attachment key -> bytes, served by the server
        self.base = "http://127.0.0.1:0"  # the server's address, once it listens
        self.gateway_url_text = "ws://127.0.0.1:0/gateway"
        self._ids = itertools.count(1)
        self.bot_user = self.add_user(self.BOT_ID, "rapsim", bot=True)
        self.add_user(self.OWNER_ID, "owner")

    def snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._ids) & 0x3FFFFF)

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        self.users[user_id] = user
        return user

    def member(self, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "nick": None,
            "flags": 0,
            "permissions": ALL_PERMISSIONS,
        }
        if with_user:
            data["user"] = self.users[user_id]
        return data

    def channel(self, channel_id: int) -> dict[str, Any]:
        if channel_id == self.DM_CHANNEL_ID:
            return {"id": str(channel_id), "type": 1, "recipients": [], "last_message_id": None}
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.GUILD_ID),
            "name": f"channel-{channel_id % 1000}",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def guild(self) -> dict[str, Any]:
        return {
            "id": str(self.GUILD_ID),
            "name": "Rap Practice",
            "icon": None,
            "owner_id": str(self.OWNER_ID),
            "unavailable": False,
            "member_count": len(self.users),
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": str(self.GUILD_ID),  # @everyone has the guild's id
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    "permissions": ALL_PERMISSIONS,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [self.channel(self.CHANNEL_ID), self.channel(self.OTHER_CHANNEL_ID)],
            "threads": [],
            "members": [self.member(uid) for uid in self.users],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "joined_at": "2024-01-01T00:00:00+00:00",
        }

    def attachment(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None,
        size: int | None = None,
        duration: float | None = None,
        waveform: str | None = None,
    ) -> dict[str, Any]:
        """Attachment metadata, its bytes served at its absolute ``url``."""
        att_id = self.snowflake()
        key = str(att_id)
        self.files[key] = data
        url = f"{self.base}/attachments/{key}/{filename}"
        att: dict[str, Any] = {
            "id": str(att_id),
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
        }
        if content_type is not None:
            att["content_type"] = content_type
        if duration is not None:
            att["duration_secs"] = duration
            att["waveform"] = waveform or "AAAA"
            att["flags"] = 0
        return att

    def message_payload(
        self,
        author_id: int,
        *,
        channel_id: int,
        content: str = "",
        attachments: Iterable[dict[str, Any]] = (),
        flags: int = 0,
        mentions: Iterable[int] = (),
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.snowflake()),
            "channel_id": str(channel_id),
            "author": self.users[author_id],
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.users[m] for m in mentions],
            "mention_roles": [],
            "attachments": list(attachments),
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": flags,
        }
        if channel_id != self.DM_CHANNEL_ID:
            data["guild_id"] = str(self.GUILD_ID)
            data["member"] = self.member(author_id, with_user=False)
        return data

    def interaction_payload(
        self,
        user_id: int,
        data: dict[str, Any],
        *,
        type: int = 2,
        channel_id: int | None = None,
        message: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload (type 2 command, 3 component, 4 autocomplete; for 4,
        ``data`` is the command's with the option being typed marked ``"focused": True``).
        ``locale``: the language the member's Discord client is set to."""
        channel_id = channel_id or self.CHANNEL_ID
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.APP_ID),
            "type": type,
            "token": f"interaction-token-{iid}",
            "version": 1,
            "data": data,
            "channel_id": str(channel_id),
            "channel": self.channel(channel_id),
            "app_permissions": ALL_PERMISSIONS,
            "locale": locale,
            "attachment_size_limit": 10 * 2**20,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.GUILD_ID)},
        }
        if channel_id == self.DM_CHANNEL_ID:
            payload["user"] = self.users[user_id]
            payload["context"] = 1
        else:
            payload["guild_id"] = str(self.GUILD_ID)
            payload["guild_locale"] = "en-US"
            payload["member"] = self.member(user_id)
            payload["context"] = 0
        if message is not None:
            payload["message"] = message
        return payload

    def command(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        resolved: dict[str, Any] | None = None,
        *,
        type: int = 1,
        target_id: str | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of an application command interaction."""
        data: dict[str, Any] = {"id": str(self.snowflake()), "name": name, "type": type}
        if options:
            data["options"] = options
        if resolved:
            data["resolved"] = resolved
        if target_id is not None:
            data["target_id"] = target_id
        return data

    def application(self) -> dict[str, Any]:
        return {
            "id": str(self.APP_ID),
            "name": "Rap Simulator",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.users[self.OWNER_ID],
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "summary": "",
            "interactions_endpoint_url": None,
        }

    def ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(self.GUILD_ID), "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url_text,
            "application": {"id": str(self.APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
