"""The members of the fake voice channel, sending their voice as Discord clients do.

A :class:`FakeMember` has an SSRC, a libopus encoder (48 kHz stereo, 64 kbit/s) and, with
DAVE on, a ``davey`` session of its own. :func:`script` turns takes (48 kHz mono int16
audio at a time on the call's clock) into what the voice server relays to the bot:
RTP packets (payload type 120) with a one-byte header extension, transport-encrypted
with ``aead_xchacha20_poly1305_rtpsize``, every tenth one padded (RFC 3550 §5.1), the
Opus frames first DAVE-encrypted when the member has a session. After each take a member
sends five Opus silence frames and then nothing (discontinuous transmission), with the
RTP clock running on; the timestamp jumps when they speak again.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import discord.opus
import nacl.secret
import numpy as np

__all__ = [
    "FRAME",
    "OPUS_SILENCE",
    "RTP_RATE",
    "FakeMember",
    "Packet",
    "Take",
    "rtp_packet",
    "script",
]

RTP_RATE = 48_000  # Hz
FRAME = RTP_RATE // 50  # samples in 20 ms
OPUS_SILENCE = b"\xf8\xff\xfe"
OPUS_PAYLOAD_TYPE = 0x78  # 120, what Discord uses for Opus
SILENCE_TAIL = 5  # silence frames a client sends before it stops
PAD_EVERY = 10  # every tenth packet carries RTP padding
_EXTENSION = b"\x10\x7f\x00\x00"  # one-byte element: id 1 (audio level), one byte, padded


@dataclass
class FakeMember:
    """One human in the voice channel."""

    user_id: int
    ssrc: int
    dave: Any = None  # davey.DaveSession while DAVE is on
    sequence: int = field(default_factory=lambda: random.randrange(1 << 16))
    timestamp: int = field(default_factory=lambda: random.randrange(1 << 32))  # at t = 0
    nonce: int = 0
    encoder: Any = None

    def opus_frames(self, pcm: np.ndarray) -> list[bytes]:
        """48 kHz mono int16 audio → 20 ms Opus frames (stereo, as clients send)."""
        if self.encoder is None:
            self.encoder = discord.opus.Encoder()
            self.encoder.set_bitrate(64)
        n = -(-len(pcm) // FRAME)
        padded = np.zeros(n * FRAME, np.int16)
        padded[: len(pcm)] = pcm
        stereo = np.repeat(padded, 2)
        return [
            self.encoder.encode(stereo[i * 2 * FRAME : (i + 1) * 2 * FRAME].tobytes(), FRAME)
            for i in range(n)
        ]


@dataclass
class Take:
    """``pcm`` (48 kHz mono int16) from ``member``, starting ``at`` seconds into the call."""

    member: FakeMember
    at: float
    pcm: np.ndarray

    @property
    def seconds(self) -> float:
        return len(self.pcm) / RTP_RATE

    @property
    def end(self) -> float:
        return self.at + self.seconds


@dataclass(frozen=True)
class Packet:
    """One datagram to send ``at`` seconds into the call (on the RTP clock)."""

    at: float
    member: FakeMember
    data: bytes


def rtp_packet(
    member: FakeMember, payload: bytes, at: float, key: bytes, *, padding: int = 0
) -> bytes:
    """One RTP packet of ``member`` as the server relays it: header and extension header
    in clear (and authenticated), the extension body, payload and padding encrypted."""
    first = 0x80 | 0x10 | (0x20 if padding else 0)  # V=2, X=1, P
    header = struct.pack(
        ">BBHII",
        first,
        OPUS_PAYLOAD_TYPE,
        member.sequence & 0xFFFF,
        (member.timestamp + round(at * RTP_RATE)) & 0xFFFFFFFF,
        member.ssrc,
    )
    member.sequence += 1
    aad = header + b"\xbe\xde" + struct.pack(">H", len(_EXTENSION) // 4)
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    nonce = struct.pack(">I", member.nonce & 0xFFFFFFFF)
    member.nonce += 1
    box = nacl.secret.Aead(key)
    sealed = box.encrypt(_EXTENSION + payload + pad, aad, nonce + bytes(20)).ciphertext
    return aad + sealed + nonce


def script(
    takes: Iterable[Take],
    key: bytes,
    *,
    corrupt: Iterable[tuple[FakeMember, float]] = (),
    bad_opus: Iterable[tuple[FakeMember, float]] = (),
) -> list[Packet]:
    """Every packet of the takes, in the order of their time on the call. ``corrupt``:
    (member, time) of packets whose payload is noise; ``bad_opus``: of well-encrypted
    packets whose Opus frame libopus refuses."""
    frames: list[tuple[float, FakeMember, bytes]] = []
    for take in takes:
        opus = take.member.opus_frames(take.pcm)
        tail = [OPUS_SILENCE] * SILENCE_TAIL
        for i, frame in enumerate(opus + tail):
            frames.append((take.at + i * FRAME / RTP_RATE, take.member, frame))
    frames += [(at, m, b"\xff" * 12) for m, at in bad_opus]
    frames.sort(key=lambda f: f[0])
    counter = itertools.count()
    packets = []
    for at, member, frame in frames:
        if member.dave is not None and frame != OPUS_SILENCE:
            frame = member.dave.encrypt_opus(frame)
        padding = 4 if next(counter) % PAD_EVERY == PAD_EVERY - 1 else 0
        packets.append(Packet(at, member, rtp_packet(member, frame, at, key, padding=padding)))
    for member, at in corrupt:
        head = rtp_packet(member, b"", at, key)[:16]
        packets.append(Packet(at, member, head + random.randbytes(60)))
    packets.sort(key=lambda p: p.at)
    return packets
