"""A small fake Discord (REST API v10 + gateway) on 127.0.0.1, for end-to-end bot tests.

It speaks just enough of Discord for the real discord.py client to log in, connect to the
gateway, receive MESSAGE_CREATE and INTERACTION_CREATE events (commands, components and
autocomplete), download attachments and post replies, interaction callbacks and followups.
Every HTTP request is recorded (method, path, body, parsed JSON / multipart files, arrival
time) for assertions, and tests inject gateway events with :meth:`FakeDiscord.message` and
:meth:`FakeDiscord.interaction`.

It does not rate-limit, check permissions or tokens, compress gateway frames (discord.py
only decompresses binary frames; text frames are read as they are) or keep state beyond
one guild, one bot and the members the tests add. Unknown routes answer 404 and stay
recorded, so a test sees what the bot tried.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import WSMsgType, web

from .discord_objects import EPHEMERAL, VOICE_MESSAGE, DiscordWorld

__all__ = [
    "AUTOCOMPLETE",
    "AUTOCOMPLETE_RESULT",
    "EPHEMERAL",
    "VOICE_MESSAGE",
    "FakeDiscord",
    "Recorded",
    "Sent",
]

API = "/api/v10"
DEFERRED_CHANNEL_MESSAGE = 5  # interaction callback type of defer(thinking=True)
AUTOCOMPLETE = 4  # interaction type: a member is typing an option that autocompletes
AUTOCOMPLETE_RESULT = 8  # the callback type answering it, {"choices": [...]}; no message


@dataclass
class Recorded:
    """One HTTP request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    json: Any = None  # the JSON body, or the multipart "payload_json" part
    files: list[tuple[str, bytes]] = field(default_factory=list)  # multipart (filename, data)
    response: Any = None  # the JSON the fake answered with

    @property
    def content(self) -> str:
        """Message content of a message, followup or interaction callback."""
        data = self.json if isinstance(self.json, dict) else {}
        if "type" in data and isinstance(data.get("data"), dict):  # an interaction callback
            data = data["data"]
        return data.get("content") or ""

    @property
    def flags(self) -> int:
        data = self.json if isinstance(self.json, dict) else {}
        if "type" in data and isinstance(data.get("data"), dict):
            data = data["data"]
        return int(data.get("flags") or 0)

    def has_png(self) -> bool:
        return b"\x89PNG\r\n\x1a\n" in self.body


@dataclass
class Sent:
    """One gateway event the fake dispatched."""

    name: str
    data: dict[str, Any]
    at: float


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py compares Content-Type for equality; aiohttp's json_response adds a charset.
    return web.Response(
        status=status, body=json.dumps(data), headers={"Content-Type": "application/json"}
    )


def _parse_multipart(content_type: str, body: bytes) -> tuple[Any, list[tuple[str, bytes]]]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    payload: Any = None
    files = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        filename = part.get_filename()
        if name == "payload_json":
            payload = json.loads(data)
        elif filename:
            files.append((filename, data))
    return payload, files


class FakeDiscord(DiscordWorld):
    """The world of :class:`DiscordWorld`, served on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Recorded] = []
        self.sent: list[Sent] = []
        self.identifies: list[dict[str, Any]] = []  # every IDENTIFY payload, in order
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{key}/{name}", self._attachment)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        self.gateway_url_text = f"ws://127.0.0.1:{port}/gateway"

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_base(self) -> str:
        return self.base + API

    @property
    def gateway_url(self) -> yarl.URL:
        return yarl.URL(self.gateway_url_text)

    @contextmanager
    def patched_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and gateway at this fake; restore both after."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.rest_base  # type: ignore[misc]
        DiscordWebSocket.DEFAULT_GATEWAY = self.gateway_url  # type: ignore[misc]
        try:
            yield
        finally:
            Route.BASE = old_base  # type: ignore[misc]
            DiscordWebSocket.DEFAULT_GATEWAY = old_gateway  # type: ignore[misc]

    # ---- attachments ---------------------------------------------------------------------
    def fetched(self, attachment: dict[str, Any]) -> int:
        """How many times the bot downloaded this attachment."""
        path = yarl.URL(attachment["url"]).path
        return sum(1 for r in self.requests if r.path == path)

    # ---- gateway events ------------------------------------------------------------------
    async def dispatch(
        self, name: str, data: dict[str, Any], *, to: web.WebSocketResponse | None = None
    ) -> None:
        """Send one event to every connected bot, or only to the connection ``to``."""
        frame = json.dumps({"op": 0, "t": name, "s": next(self._seq), "d": data})
        for ws in self._sockets if to is None else [to]:
            if not ws.closed:
                await ws.send_str(frame)
        self.sent.append(Sent(name, data, time.monotonic()))

    async def message(self, author_id: int, **kwargs: Any) -> dict[str, Any]:
        """Dispatch MESSAGE_CREATE (see :meth:`message_payload`); returns its payload."""
        data = self.message_payload(author_id, **kwargs)
        await self.dispatch("MESSAGE_CREATE", data)
        return data

    async def interaction(
        self, user_id: int, data: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE (see :meth:`interaction_payload`); returns its payload."""
        payload = self.interaction_payload(user_id, data, **kwargs)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    # ---- waiting on the bot --------------------------------------------------------------
    async def wait_identified(self, count: int, *, timeout: float = 30.0) -> None:
        """Until ``count`` gateway sessions have identified and been sent READY."""
        async with asyncio.timeout(timeout):
            while len(self.identifies) < count or len(self.sent) < 2 * count:
                await asyncio.sleep(0.02)

    def mark(self) -> int:
        """A position in :attr:`requests`; pass it to :meth:`wait_for` as ``since``."""
        return len(self.requests)

    async def wait_for(
        self,
        predicate: Callable[[Recorded], bool],
        *,
        since: int = 0,
        timeout: float = 30.0,
    ) -> Recorded:
        """The first request from index ``since`` on that matches, waiting for it to come."""

        def find() -> Recorded | None:
            return next((r for r in self.requests[since:] if predicate(r)), None)

        async with self._changed:
            found = await asyncio.wait_for(self._changed.wait_for(find), timeout)
        assert found is not None
        return found

    def matching(self, predicate: Callable[[Recorded], bool], *, since: int = 0) -> list[Recorded]:
        return [r for r in self.requests[since:] if predicate(r)]

    async def _record(self, request: web.Request, path: str) -> Recorded:
        body = await request.read()
        rec = Recorded(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            at=time.monotonic(),
        )
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            rec.json, rec.files = _parse_multipart(ctype, body)
        elif body and ctype.startswith("application/json"):
            rec.json = json.loads(body)
        self.requests.append(rec)
        async with self._changed:
            self._changed.notify_all()
        return rec

    # ---- HTTP handlers -----------------------------------------------------------------
    async def _attachment(self, request: web.Request) -> web.Response:
        await self._record(request, request.path)
        data = self.files.get(request.match_info["key"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        rec = await self._record(request, path)
        status, data = self._answer(rec, request.method, path)
        if data is None:
            return web.Response(status=status)
        rec.response = data
        return _json(data, status)

    def _answer(self, rec: Recorded, method: str, path: str) -> tuple[int, Any]:
        """(status, JSON answer or None) for one REST request."""
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/users/@me":
            return 200, self.bot_user
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, self.application()
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return 200, {"url": str(self.gateway_url), "shards": 1}
        if method == "POST" and parts[0] == "channels" and parts[-1] == "typing":
            return 204, None
        if method == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            return 200, self._message_from(rec, channel_id=int(parts[1]))
        if method == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            return 200, self._callback(rec, parts[1])
        if parts[0] == "webhooks" and method in ("POST", "PATCH", "GET"):
            return 200, self._message_from(rec, channel_id=self.CHANNEL_ID)
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            return 200, self._commands(rec.json or [])
        return 404, {"message": "Unknown route (fake)", "code": 0}

    def _message_from(self, rec: Recorded, *, channel_id: int) -> dict[str, Any]:
        sent = rec.json if isinstance(rec.json, dict) else {}
        data = self.message_payload(self.BOT_ID, channel_id=channel_id, content=rec.content)
        data["flags"] = int(sent.get("flags") or 0)
        data["attachments"] = [
            {
                "id": str(self.snowflake()),
                "filename": name,
                "size": len(blob),
                "url": f"{self.base}/attachments/sent/{name}",
                "proxy_url": f"{self.base}/attachments/sent/{name}",
                "content_type": "image/png",
            }
            for name, blob in rec.files
        ]
        data["components"] = sent.get("components", [])
        return data

    def _callback(self, rec: Recorded, interaction_id: str) -> dict[str, Any]:
        kind = int((rec.json or {}).get("type", 0))
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "type": self._interaction_type(interaction_id),
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(rec.flags & EPHEMERAL),
        }
        if kind in (4, 5, 7):  # a message was created or updated: give it an id
            interaction["response_message_id"] = str(self.snowflake())
        return {"interaction": interaction}

    def _interaction_type(self, interaction_id: str) -> int:
        """The type of the interaction the fake dispatched with this id (2 if unknown)."""
        sent = (s.data for s in self.sent if s.name == "INTERACTION_CREATE")
        return next((int(d["type"]) for d in sent if d["id"] == interaction_id), 2)

    def _commands(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for cmd in commands:
            full = {
                "id": str(self.snowflake()),
                "application_id": str(self.APP_ID),
                "version": str(self.snowflake()),
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
            }
            full.update(cmd)
            out.append(full)
        return out

    # ---- gateway -----------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        await self._record(request, request.path)  # a bot connecting: "GET /gateway"
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41_250}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:  # heartbeat
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:  # identify
                self.identifies.append(payload["d"])
                # Only to this connection: a second bot logging in must not reset the first.
                await self.dispatch("READY", self.ready(), to=ws)
                await self.dispatch("GUILD_CREATE", self.guild(), to=ws)
            elif op == 6:  # resume
                await self.dispatch("RESUMED", {}, to=ws)
            else:
                await self._gateway_op(ws, op, payload.get("d"))
        return ws

    async def _gateway_op(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        """Any other opcode the bot sends: ignored here (subclasses answer theirs)."""
