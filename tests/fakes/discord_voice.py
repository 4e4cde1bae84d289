"""A fake Discord voice server, and the fake Discord around it with a voice channel.

:class:`FakeVoiceDiscord` is :class:`~tests.fakes.discord_server.FakeDiscord` with a
voice channel whose members the tests move in and out (``VOICE_STATE_UPDATE``); when the
bot asks to join (gateway opcode 4) it answers ``VOICE_STATE_UPDATE`` and
``VOICE_SERVER_UPDATE`` with the endpoint of its :class:`FakeVoiceServer`, and it serves
``PATCH /guilds/{id}/members/@me`` (the bot's nickname) with ``GUILD_MEMBER_UPDATE``.

:class:`FakeVoiceServer` speaks the voice gateway v8 that discord.py 2.7 speaks, over a
local TLS websocket (a self-signed certificate: give the bot
``aiohttp.TCPConnector(ssl=fake.voice.client_ssl)``): HELLO; IDENTIFY → READY (ssrc, ip,
port, modes); SELECT_PROTOCOL → SESSION_DESCRIPTION (secret key, the mode,
``dave_protocol_version``); heartbeats and their ACKs; CLIENTS_CONNECT, SPEAKING and
CLIENT_DISCONNECT for the members; and a UDP endpoint that answers IP discovery and sends
the members' RTP (``discord_voice_media``). With ``dave=True`` it also plays the DAVE
handshake as Discord's server does: it sends its MLS external sender (opcode 25), takes
the bot's key package (26), has the first member's ``davey`` session commit the Adds of
the other members and the bot that it proposes as external sender (``discord_voice_mls``),
sends the bot the Welcome (30) and executes the transition the bot is ready for (23 → 22).

Not modelled: resuming, members joining after the bot (with DAVE, they would need a
second commit), video, RTCP, rate limits, region moves, stage channels.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMsgType, web

from .discord_server import FakeDiscord, Recorded
from .discord_voice_media import FakeMember, Packet, Take, script
from .discord_voice_mls import ExternalSender, self_signed

__all__ = ["FakeMember", "FakeVoiceDiscord", "FakeVoiceServer", "Take"]

HELLO, READY, HEARTBEAT, SESSION_DESCRIPTION, SPEAKING, HEARTBEAT_ACK = 8, 2, 3, 4, 5, 6
IDENTIFY, SELECT_PROTOCOL, RESUME, RESUMED = 0, 1, 7, 9
CLIENTS_CONNECT, CLIENT_DISCONNECT = 11, 13
DAVE_EXECUTE_TRANSITION, DAVE_TRANSITION_READY = 22, 23
MLS_EXTERNAL_SENDER, MLS_KEY_PACKAGE, MLS_WELCOME, MLS_INVALID_COMMIT_WELCOME = 25, 26, 30, 31
MODES = ["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"]  # Discord's, in order
BOT_SSRC = 4242


class _Udp(asyncio.DatagramProtocol):
    """The media endpoint: answers IP discovery, remembers where the bot listens."""

    def __init__(self, server: FakeVoiceServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) == 74 and data[:2] == b"\x00\x01":  # IP discovery request
            ip = addr[0].encode().ljust(64, b"\x00")
            answer = struct.pack(">HHI", 2, 70, struct.unpack_from(">I", data, 4)[0])
            assert self.transport is not None
            self.transport.sendto(answer + ip + struct.pack(">H", addr[1]), addr)
            self.server.bot_addr = addr
        else:
            self.server.udp_received.append(data)


class FakeVoiceServer:
    """One voice server for one bot connection at a time."""

    def __init__(self, channel_id: int, *, dave: bool) -> None:
        self.channel_id = channel_id
        self.dave = dave
        self.members: dict[int, FakeMember] = {}  # user id -> the human in the channel
        self.identifies: list[dict[str, Any]] = []
        self.received: list[dict[str, Any] | bytes] = []  # every frame the bot sent
        self.udp_received: list[bytes] = []  # keepalives and anything else but discovery
        self.bot_addr: tuple[str, int] | None = None
        self.secret_key = b""
        self.external_sender = ExternalSender()
        self.dave_ready = asyncio.Event()  # the bot executed the transition into the group
        self.session_ready = asyncio.Event()  # the bot has the key (SESSION_DESCRIPTION)
        self._ssl, self.client_ssl = self_signed()
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._udp: _Udp | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl).start()
        self.port = self._runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        transport, self._udp = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=("127.0.0.1", 0)
        )
        self.udp_port = transport.get_extra_info("sockname")[1]

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def add_member(self, user_id: int, ssrc: int) -> FakeMember:
        """A human in the channel before the bot joins (their davey session is made
        when the bot's handshake needs it)."""
        member = self.members[user_id] = FakeMember(user_id, ssrc)
        return member

    # ---- what the tests do -------------------------------------------------------------
    async def speaking(self, member: FakeMember) -> None:
        """SPEAKING: tells the bot which member sends on ``member.ssrc``."""
        data = {"user_id": str(member.user_id), "ssrc": member.ssrc, "speaking": 1}
        await self._send(SPEAKING, data)

    async def client_disconnect(self, user_id: int) -> None:
        await self._send(CLIENT_DISCONNECT, {"user_id": str(user_id)})

    def packets(self, takes: Iterable[Take], **faults: Any) -> list[Packet]:
        """The RTP of ``takes`` under the bot's key (see ``discord_voice_media.script``)."""
        return script(takes, self.secret_key, **faults)

    async def play(self, packets: list[Packet], *, speed: float = 1.0) -> None:
        """Sends the packets at their times on the call, ``speed`` times faster."""
        assert self.bot_addr is not None and self._udp is not None and self._udp.transport
        loop = asyncio.get_running_loop()
        start = loop.time()
        for packet in packets:
            delay = start + packet.at / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._udp.transport.sendto(packet.data, self.bot_addr)

    # ---- the voice gateway -------------------------------------------------------------
    async def _send(self, op: int, data: dict[str, Any]) -> None:
        if self.connected:
            self._seq += 1
            assert self._ws is not None
            await self._ws.send_str(json.dumps({"op": op, "d": data, "seq": self._seq}))

    async def _send_binary(self, op: int, payload: bytes) -> None:
        if self.connected:
            self._seq += 1
            assert self._ws is not None
            await self._ws.send_bytes(struct.pack(">HB", self._seq & 0xFFFF, op) + payload)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws, self._seq = ws, 0
        self.dave_ready.clear()
        self.session_ready.clear()
        await ws.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": 13_750}}))
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                payload = json.loads(msg.data)
                self.received.append(payload)
                await self._on_json(payload["op"], payload.get("d") or {})
            elif msg.type is WSMsgType.BINARY:
                self.received.append(msg.data)
                await self._on_binary(msg.data[0], msg.data[1:])
        return ws

    async def _on_json(self, op: int, data: dict[str, Any]) -> None:
        if op == IDENTIFY:
            self.identifies.append(data)
            ready = {"ssrc": BOT_SSRC, "ip": "127.0.0.1", "port": self.udp_port, "modes": MODES}
            await self._send(READY, ready)
        elif op == SELECT_PROTOCOL:
            self.secret_key = os.urandom(32)
            description = {
                "mode": data["data"]["mode"],
                "secret_key": list(self.secret_key),
                "dave_protocol_version": 1 if self.dave else 0,
            }
            await self._send(SESSION_DESCRIPTION, description)
            if self.dave:
                await self._send_binary(MLS_EXTERNAL_SENDER, self.external_sender.package)
            else:
                self.dave_ready.set()
            self.session_ready.set()
            await self._send(CLIENTS_CONNECT, {"user_ids": [str(u) for u in self.members]})
        elif op == HEARTBEAT:
            await self._send(HEARTBEAT_ACK, {"t": data.get("t")})
        elif op == RESUME:
            await self._send(RESUMED, {})
        elif op == DAVE_TRANSITION_READY:
            await self._send(DAVE_EXECUTE_TRANSITION, {"transition_id": data["transition_id"]})
            self.dave_ready.set()
        elif op == MLS_INVALID_COMMIT_WELCOME:
            raise AssertionError(f"the bot refused the DAVE welcome: {data}")

    async def _on_binary(self, op: int, payload: bytes) -> None:
        if op == MLS_KEY_PACKAGE:
            await self._make_group(payload)

    async def _make_group(self, bot_key_package: bytes) -> None:
        """The MLS group of the call: the first member founds it and commits the Adds of
        everyone else (the bot included) that the server proposes; the others join by
        the Welcome."""
        import davey

        if not self.members:
            raise AssertionError("the fake needs a member in the channel to found the group")
        for member in self.members.values():
            member.dave = davey.DaveSession(1, member.user_id, self.channel_id)
            member.dave.set_external_sender(self.external_sender.package)
        founder, *others = self.members.values()
        key_packages = [m.dave.get_serialized_key_package() for m in others]
        founder.dave.get_serialized_key_package()
        proposals = self.external_sender.add_proposals(
            self.channel_id, 0, [*key_packages, bot_key_package]
        )
        result = founder.dave.process_proposals(davey.ProposalsOperationType.append, proposals)
        assert result is not None and result.welcome, "the founder made no commit"
        founder.dave.process_commit(result.commit)
        for member in others:
            member.dave.process_welcome(result.welcome)
        transition_id = 1
        await self._send_binary(MLS_WELCOME, struct.pack(">H", transition_id) + result.welcome)


class FakeVoiceDiscord(FakeDiscord):
    """The fake Discord with one voice channel, served by :attr:`voice`."""

    VOICE_CHANNEL_ID = 900000000000000010

    def __init__(self, *, dave: bool) -> None:
        super().__init__()
        self.voice = FakeVoiceServer(self.VOICE_CHANNEL_ID, dave=dave)
        self.in_voice: set[int] = set()  # users in the voice channel (the bot included)
        self.nicks: list[str | None] = []  # every nickname the bot gave itself
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await super().start()
        await self.voice.start()

    async def close(self) -> None:
        await self.voice.close()
        await super().close()

    # ---- the world -----------------------------------------------------------------------
    def channel(self, channel_id: int) -> dict[str, Any]:
        data = super().channel(channel_id)
        if channel_id == self.VOICE_CHANNEL_ID:
            data.update(type=2, name="cypher", bitrate=64000, user_limit=0, rtc_region=None)
        return data

    def guild(self) -> dict[str, Any]:
        data = super().guild()
        data["channels"].append(self.channel(self.VOICE_CHANNEL_ID))
        data["voice_states"] = [self.voice_state(u, self.VOICE_CHANNEL_ID) for u in self.in_voice]
        return data

    def voice_state(self, user_id: int, channel_id: int | None) -> dict[str, Any]:
        return {
            "guild_id": str(self.GUILD_ID),
            "channel_id": None if channel_id is None else str(channel_id),
            "user_id": str(user_id),
            "member": self.member(user_id),
            "session_id": f"voice-session-{user_id}",
            "deaf": False,
            "mute": False,
            "self_deaf": False,
            "self_mute": False,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }

    def seat(self, user_id: int, ssrc: int) -> FakeMember:
        """A member already in the voice channel when the bot logs in."""
        self.in_voice.add(user_id)
        return self.voice.add_member(user_id, ssrc)

    async def leave_voice(self, user_id: int) -> None:
        """The member hangs up: the voice server and the gateway both say so."""
        self.in_voice.discard(user_id)
        await self.voice.client_disconnect(user_id)
        await self.dispatch("VOICE_STATE_UPDATE", self.voice_state(user_id, None))

    # ---- the bot's own voice state and nickname ------------------------------------------
    async def _bot_voice(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        channel_id = data.get("channel_id")
        channel = None if channel_id is None else int(channel_id)
        if channel is None:
            self.in_voice.discard(self.BOT_ID)
        else:
            self.in_voice.add(self.BOT_ID)
        await self.dispatch("VOICE_STATE_UPDATE", self.voice_state(self.BOT_ID, channel), to=ws)
        if channel is not None:
            server = {
                "token": "fake-voice-token",
                "guild_id": str(self.GUILD_ID),
                "endpoint": self.voice.endpoint,
            }
            await self.dispatch("VOICE_SERVER_UPDATE", server, to=ws)

    def _answer(self, rec: Recorded, method: str, path: str) -> tuple[int, Any]:
        if method == "PATCH" and path == f"/guilds/{self.GUILD_ID}/members/@me":
            nick = (rec.json or {}).get("nick") or None  # "" resets it, as at Discord
            self.nicks.append(nick)
            member = self.member(self.BOT_ID)
            member["nick"] = nick
            update = {**member, "guild_id": str(self.GUILD_ID)}
            task = asyncio.get_running_loop().create_task(
                self.dispatch("GUILD_MEMBER_UPDATE", update)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return 200, member
        return super()._answer(rec, method, path)

    async def _gateway_op(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        """Opcode 4 on the main gateway: the bot joining or leaving voice."""
        if op == 4:
            await self._bot_voice(ws, data)
