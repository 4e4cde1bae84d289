"""One UDP datagram from Discord's voice server → one member's Opus frame.

In order (the order matters: DAVE's trailer sits at the very end of the frame, so RTP
padding left on it makes every padded frame fail to decrypt):

1. the RTP header, read without decrypting anything (:func:`peek`), so packets of members
   who did not opt in are dropped before any work is done on them;
2. the transport layer (``aead_xchacha20_poly1305_rtpsize``, or the older xsalsa20 modes)
   decrypted by discord-ext-voice-recv's ``PacketDecryptor``, which also strips the
   encrypted RTP header extension;
3. RTP padding stripped (RFC 3550 §5.1; the extension leaves it on);
4. DAVE, Discord's end-to-end layer, removed with the connection's ``davey`` session
   (:func:`dave_decrypt`).

It does not decode Opus, reorder packets or know members: ``receive.py`` does.
"""

from __future__ import annotations

import struct
from typing import Any

from discord.ext.voice_recv import rtp
from discord.ext.voice_recv.reader import PacketDecryptor
from nacl.exceptions import CryptoError

try:
    import davey
except ImportError:  # discord.py[voice] brings it; without it there is no DAVE to undo
    davey = None  # type: ignore[assignment]

__all__ = [
    "DAVE_MAGIC",
    "OPUS_SILENCE",
    "BadPacket",
    "Transport",
    "dave_decrypt",
    "peek",
    "strip_padding",
]

OPUS_SILENCE = b"\xf8\xff\xfe"  # the 20 ms silence frame clients send before they go quiet
DAVE_MAGIC = b"\xfa\xfa"  # the last two bytes of every DAVE-encrypted frame
_HEADER = struct.Struct(">xxHII")  # sequence, timestamp, ssrc


class BadPacket(Exception):
    """A packet that cannot be read: wrong key, cut short, tampered with, bad padding."""


def peek(data: bytes) -> tuple[int, int, int] | None:
    """``(ssrc, sequence, timestamp)`` of an RTP packet, from its clear header; None for
    anything else on the socket (RTCP, IP discovery answers, keepalives, junk)."""
    if len(data) < 12 or data[0] >> 6 != 2 or 200 <= data[1] <= 204:
        return None
    sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    return ssrc, sequence, timestamp


def strip_padding(payload: bytes) -> bytes:
    """The payload without its RTP padding: the last byte counts the padding, itself
    included."""
    if not payload:
        raise BadPacket("padding bit set on an empty payload")
    n = payload[-1]
    if n == 0 or n > len(payload):
        raise BadPacket(f"padding of {n} bytes in a payload of {len(payload)}")
    return payload[:-n]


class Transport:
    """The transport decryption of one voice connection (its mode and secret key)."""

    def __init__(self, mode: str, secret_key: bytes) -> None:
        if len(secret_key) != 32:
            raise ValueError("the voice secret key has 32 bytes")
        self.mode = mode
        self._decryptor = PacketDecryptor(mode, secret_key)  # type: ignore[arg-type]

    def payload(self, data: bytes) -> bytes:
        """The media payload of one RTP packet: decrypted, header extension and padding
        stripped. Raises :class:`BadPacket`."""
        try:
            packet = rtp.decode_rtp(data)
            payload = bytes(self._decryptor.decrypt_rtp(packet))
        except CryptoError as e:
            raise BadPacket("transport decryption failed") from e
        except (ValueError, IndexError, struct.error) as e:
            raise BadPacket(f"unreadable RTP packet: {e}") from e
        return strip_padding(payload) if packet.padding else payload


def dave_decrypt(session: Any, user_id: int, frame: bytes) -> bytes:
    """The Opus frame inside a DAVE frame from ``user_id``; ``session`` is the
    connection's ``davey.DaveSession`` (None: DAVE is off, the frame is returned as is).

    davey itself lets through what DAVE allows in clear: the Opus silence frame, and any
    frame while the session is in passthrough mode (a protocol transition). A frame it
    refuses raises :class:`BadPacket`, except the silence frame, which is always safe.
    """
    if session is None or davey is None:
        return frame
    try:
        return bytes(session.decrypt(user_id, davey.MediaType.audio, frame))
    except ValueError as e:
        if frame == OPUS_SILENCE:
            return frame
        raise BadPacket(f"DAVE: {e}") from e
