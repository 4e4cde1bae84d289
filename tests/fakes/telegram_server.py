"""A small fake Telegram Bot API server (aiohttp.web on 127.0.0.1) for end-to-end tests.

The real aiogram client talks to it through ``TelegramAPIServer.from_base(fake.url)``:
``POST {url}/bot<token>/<method>`` for API calls and ``GET {url}/file/bot<token>/<path>``
for file downloads. The fake records every call (parameters and uploaded parts), serves
``getUpdates`` as a long poll over updates a test queues, and answers the few methods a bot
uses with objects that pass aiogram's pydantic models.

It is not a Bot API emulator: no chats, permissions, webhooks or message history; unknown
methods get the real server's 404 answer, and ``fail_next`` makes a method fail on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

Json = dict[str, Any]

# Bot API entities the fake computes for text it queues: commands and @mentions.
_ENTITY = re.compile(
    r"(?P<bot_command>(?<!\S)/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|"
    r"(?P<mention>(?<![\w@])@[A-Za-z0-9_]{3,})"
)


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class ApiCall:
    """One request the bot made: its method, form fields (strings) and file parts."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    at: float = field(default_factory=time.time)  # wall clock, comparable with log records
    result: Any = None  # what the fake answered (the sent Message for send* methods)

    def json(self, name: str) -> Any:
        """A field aiogram sends JSON-encoded (reply_parameters, reply_markup, ...)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value

    def attachment(self, name: str) -> Upload:
        """The uploaded part a field refers to with ``attach://<part>``."""
        ref = str(self.params[name])
        assert ref.startswith("attach://"), f"{name} is not an upload: {ref!r}"
        return self.files[ref.removeprefix("attach://")]

    @property
    def reply_to(self) -> int | None:
        params = self.json("reply_parameters") or {}
        legacy = self.params.get("reply_to_message_id")
        return params.get("message_id") or (int(legacy) if legacy else None)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entities_for(text: str) -> list[Json]:
    """bot_command and mention entities, with Telegram's UTF-16 offsets."""
    out = []
    for m in _ENTITY.finditer(text):
        kind = m.lastgroup or "mention"
        if kind == "bot_command" and m.start() != 0:
            continue  # Telegram only marks a command at the start as a bot_command
        out.append(
            {
                "type": kind,
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group()),
            }
        )
    return out


class FakeTelegram:
    """Start with ``await start()``; ``url`` is the base to give aiogram; ``close()`` at the end."""

    def __init__(self, token: str, *, bot_id: int = 4242, username: str = "RapSimTestBot"):
        self.token = token
        self.me: Json = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Rap Simulator",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.downloads: list[str] = []  # file paths the bot fetched from /file/
        self.url = ""
        self._updates: list[Json] = []
        self._changed = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._files: dict[str, tuple[str, bytes, int]] = {}  # file_id -> (path, data, size)
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._chats: dict[int, Json] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        self._closing = True
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what a test queues ------------------------------------------------------------
    def push_update(self, **payload: Any) -> int:
        """Queue one update (``message=...``, ``callback_query=...``); returns its id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        self._wake()
        return update_id

    def add_file(self, data: bytes, *, name: str = "file.bin", size: int | None = None) -> Json:
        """Store a downloadable file; returns the file_id/file_unique_id/file_size fields."""
        n = len(self._files) + 1
        file_id = f"FILE{n:04d}"
        path = f"documents/{n:04d}_{name}"
        reported = len(data) if size is None else size
        self._files[file_id] = (path, data, reported)
        return {"file_id": file_id, "file_unique_id": f"U{n:04d}", "file_size": reported}

    def fail_next(self, method: str, code: int = 500, description: str = "Internal Server Error"):
        """The next call of ``method`` gets this error instead of its answer.

        ``method="download"`` makes the next ``GET /file/...`` fail with this HTTP status.
        """
        self._failures.setdefault(method, []).append((code, description))

    def message(
        self,
        chat: Json,
        user: Json | None,
        *,
        text: str | None = None,
        reply_to: Json | None = None,
        **fields: Any,
    ) -> Json:
        """Queue a member's message (entities computed for ``text``); returns the message."""
        self._chats[chat["id"]] = chat
        msg: Json = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}
        if user is not None:
            msg["from"] = user
        if text is not None:
            msg["text"] = text
            entities = fields.pop("entities", None) or entities_for(text)
            if entities:
                msg["entities"] = entities
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        msg.update(fields)
        self.push_update(message=msg)
        return msg

    def callback(self, user: Json, message: Json, data: str) -> str:
        """Queue a press of an inline button under ``message`` (a message the bot sent)."""
        query_id = f"CQ{next(self._update_ids)}"
        self.push_update(
            callback_query={
                "id": query_id,
                "from": user,
                "chat_instance": "ci-1",
                "message": message,
                "data": data,
            }
        )
        return query_id

    # ---- what a test checks ------------------------------------------------------------
    def calls_to(self, method: str, since: int = 0) -> list[ApiCall]:
        return [c for c in self.calls[since:] if c.method == method]

    async def wait_for(
        self,
        method: str | tuple[str, ...],
        where: Callable[[ApiCall], bool] = lambda call: True,
        *,
        since: int = 0,
        timeout: float = 30.0,
    ) -> ApiCall:
        """The first call of ``method`` (one of them, for a tuple) from ``calls[since:]``
        for which ``where`` holds; AssertionError after ``timeout`` seconds."""
        methods = (method,) if isinstance(method, str) else method
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls[since:]:
                if call.method in methods and where(call):
                    return call
            if time.monotonic() > deadline:
                seen = [c.method for c in self.calls[since:] if c.method != "getUpdates"]
                raise AssertionError(f"no matching {method} within {timeout:g} s; saw {seen}")
            await asyncio.sleep(0.02)

    # ---- the server side -------------------------------------------------------------
    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read_form(request)
        call = ApiCall(method, params, files)
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        if self._failures.get(method):
            return _error(*self._failures[method].pop(0))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        return await handler(call)

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        if self._failures.get("download"):
            code, description = self._failures["download"].pop(0)
            return web.Response(status=code, text=description)
        for file_path, data, _ in self._files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    async def _m_getme(self, call: ApiCall) -> web.Response:
        return _ok(self.me)

    async def _m_getupdates(self, call: ApiCall) -> web.Response:
        offset = int(call.params.get("offset") or 0)
        limit = int(call.params.get("limit") or 100)
        timeout = float(call.params.get("timeout") or 0)
        if offset:  # everything below the offset is confirmed: the real server forgets it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            changed = self._changed
            ready = self._updates[:limit]
            left = deadline - time.monotonic()
            if ready or self._closing or left <= 0:
                return _ok(ready)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    async def _m_getfile(self, call: ApiCall) -> web.Response:
        file_id = str(call.params.get("file_id"))
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path, _, size = self._files[file_id]
        if size > 20 * 1024 * 1024:
            return _error(400, "Bad Request: file is too big")
        n = file_id.removeprefix("FILE")
        return _ok(
            {"file_id": file_id, "file_unique_id": f"U{n}", "file_size": size, "file_path": path}
        )

    async def _m_sendmessage(self, call: ApiCall) -> web.Response:
        return _ok(self._sent(call, text=str(call.params.get("text", ""))))

    async def _m_sendphoto(self, call: ApiCall) -> web.Response:
        photo = {
            "file_id": f"PHOTO{len(self.calls)}",
            "file_unique_id": f"P{len(self.calls)}",
            "width": 800,
            "height": 600,
        }
        fields: Json = {"photo": [photo]}
        if call.params.get("caption"):
            fields["caption"] = str(call.params["caption"])
        return _ok(self._sent(call, **fields))

    async def _m_editmessagetext(self, call: ApiCall) -> web.Response:
        msg = self._sent(call, text=str(call.params.get("text", "")))
        msg["message_id"] = int(call.params.get("message_id") or msg["message_id"])
        msg["edit_date"] = int(time.time())
        return _ok(msg)

    async def _m_sendchataction(self, call: ApiCall) -> web.Response:
        return _ok(True)

    _m_answercallbackquery = _m_deletewebhook = _m_setmycommands = _m_sendchataction

    def _sent(self, call: ApiCall, **fields: Any) -> Json:
        chat_id = int(call.params.get("chat_id", 0))
        chat = self._chats.get(chat_id) or {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "supergroup",
        }
        msg: Json = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.me,
            **fields,
        }
        if call.params.get("reply_markup"):
            msg["reply_markup"] = call.json("reply_markup")
        call.result = msg
        return msg


async def _read_form(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Fields and file parts of a urlencoded, multipart or JSON request, all in memory."""
    params: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = bytes(await part.read())
            if part.filename:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name] = Upload(part.filename, kind, data)
            else:
                params[part.name] = data.decode()
    elif request.content_type == "application/json":
        params = dict(await request.json())
    elif request.can_read_body:
        params = {k: str(v) for k, v in (await request.post()).items()}
    return params, files


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )
