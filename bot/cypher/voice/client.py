"""discord.py's voice client, made to hear: the SSRC → member map, keys and departures.

:class:`CypherVoiceClient` is discord-ext-voice-recv's ``VoiceRecvClient`` (its voice
gateway hook maps SSRCs from SPEAKING and forgets members on CLIENT_DISCONNECT) with the
extension's own reader, jitter buffer and sinks left out: :meth:`listen_verses` plugs a
:class:`~bot.cypher.voice.receive.VerseReceiver` straight into discord.py's socket
reader, and the hook also hands it the session key and the members who left.

The DAVE session is discord.py's own (``VoiceConnectionState.dave_session``, kept through
the MLS handshake by discord.py 2.7's voice gateway); this module only reads it.
Connect with ``await channel.connect(cls=CypherVoiceClient)``.
"""

from __future__ import annotations

import logging
from typing import Any

from discord.ext.voice_recv import VoiceRecvClient
from discord.ext.voice_recv.gateway import CLIENT_DISCONNECT, hook
from discord.voice_state import VoiceConnectionState

from .receive import VerseReceiver

__all__ = ["CypherVoiceClient"]

log = logging.getLogger(__name__)

SESSION_DESCRIPTION = 4  # voice gateway opcode: the mode and secret key


class CypherVoiceClient(VoiceRecvClient):
    """A voice client whose received audio goes to one :class:`VerseReceiver`."""

    receiver: VerseReceiver | None = None

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._voice_event)

    async def _voice_event(self, ws: Any, msg: dict[str, Any]) -> None:
        await hook(ws, msg)  # the extension's: SSRCs from SPEAKING, departures
        receiver = self.receiver
        if receiver is None:
            return
        op, data = msg.get("op"), msg.get("d") or {}
        if op == SESSION_DESCRIPTION and ws.secret_key:
            receiver.set_transport(self._connection.mode, bytes(ws.secret_key))
        elif op == CLIENT_DISCONNECT:
            receiver.member_left(int(data["user_id"]))

    def dave_session(self) -> Any:
        """The connection's davey session while DAVE is on, else None."""
        state = self._connection
        return state.dave_session if state.dave_protocol_version else None

    # ---- the SSRC map, mirrored into the receiver --------------------------------------
    def _add_ssrc(self, user_id: int, ssrc: int) -> None:
        self._ssrc_to_id[ssrc] = user_id
        self._id_to_ssrc[user_id] = ssrc
        if self.receiver is not None:
            self.receiver.map_ssrc(ssrc, user_id)

    def _remove_ssrc(self, *, user_id: int) -> None:
        # The extension's version also stops its speaking timer, which we never start.
        ssrc = self._id_to_ssrc.pop(user_id, None)
        if ssrc is not None:
            self._ssrc_to_id.pop(ssrc, None)
            if self.receiver is not None:
                self.receiver.unmap_ssrc(ssrc)

    # ---- listening ----------------------------------------------------------------------
    def listen_verses(self, receiver: VerseReceiver) -> None:
        """Starts ``receiver`` on this connection's packets."""
        if self.receiver is not None:
            raise RuntimeError("already listening")
        state = self._connection
        receiver.set_transport(state.mode, bytes(state.secret_key))
        for ssrc, user_id in self._ssrc_to_id.items():
            receiver.map_ssrc(ssrc, user_id)
        self.receiver = receiver
        receiver.start()
        state.add_socket_listener(receiver.on_packet)

    def stop_listening(self) -> None:
        super().stop_listening()
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            self._connection.remove_socket_listener(receiver.on_packet)
            receiver.close()

    def send_keepalive(self, data: bytes) -> None:
        """One UDP datagram to the voice server (from the receiver's thread)."""
        state = self._connection
        if state.socket and state.endpoint_ip and state.voice_port:
            state.socket.sendto(data, (state.endpoint_ip, state.voice_port))
