"""One member's received audio cut into verses by their own silence.

:class:`VerseCutter` takes that member's decoded 20 ms frames with their RTP timestamps
(Discord's 48 kHz clock), in arrival order, and emits a :class:`Verse` (a WAV in memory,
at ``sample_rate``: 16 kHz by default, the rate the analysis works at)
each time the member has been quiet for ``silence_s``, has rapped for ``max_s``, left, or
the cypher stopped. Frames are placed by timestamp, so a late packet lands where it
belongs and a lost one leaves 20 ms of zeros.

Pure and single-threaded: no Discord, no sockets; ``receive.py`` drives it from its one
decoder thread. It does not resample, denoise, or tell rapping from talking: a member
who chats between verses gets those words as a (short) verse too, and ``min_s`` drops
the shortest.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["RATES", "RTP_RATE", "Verse", "VerseCutter", "VerseOptions", "to_wav"]

RTP_RATE = 48_000  # Hz: the clock of Discord's Opus RTP timestamps
RATES = (8_000, 12_000, 16_000, 24_000, 48_000)  # Hz: what libopus can decode to
_WRAP = 1 << 32  # RTP timestamps are 32-bit and wrap


@dataclass(frozen=True)
class VerseOptions:
    """How verses are cut. Times in seconds."""

    silence_s: float = 2.0  # the member's own silence that ends a verse
    min_s: float = 3.0  # a shorter take (a cough, a "yo") is dropped
    max_s: float = 60.0  # a longer verse is delivered here and goes on as the next one
    quiet_dbfs: float = -45.0  # a frame below this RMS level (dB full scale) is silence
    hold_unmapped_s: float = 2.0  # packets of an SSRC no SPEAKING has named yet, kept this long
    sample_rate: int = 16_000  # Hz, of the verses (Opus decodes straight to it, mono)

    def __post_init__(self) -> None:
        if self.sample_rate not in RATES:
            raise ValueError(f"sample_rate must be one of {RATES}, not {self.sample_rate}")
        if not 0.2 <= self.silence_s <= 30:
            raise ValueError(f"silence_s must be 0.2-30 s, not {self.silence_s}")
        if not 0 <= self.min_s < self.max_s <= 600:
            raise ValueError(f"need 0 <= min_s < max_s <= 600, not {self.min_s}, {self.max_s}")
        if not -90 <= self.quiet_dbfs < 0:
            raise ValueError(f"quiet_dbfs must be -90 to 0, not {self.quiet_dbfs}")
        if not 0 <= self.hold_unmapped_s <= 10:
            raise ValueError(f"hold_unmapped_s must be 0-10 s, not {self.hold_unmapped_s}")


@dataclass(frozen=True)
class Verse:
    """One verse of one member: ``audio`` is a WAV (mono, 16-bit, ``sample_rate``)."""

    user_id: int
    audio: bytes
    seconds: float  # from the first voiced frame to the end of the last one
    sample_rate: int
    reason: str  # what ended it: "silence", "max_length", "left" or "stopped"
    ended_at: float  # time.time() when it was cut
    filename: str = "verse.wav"


def to_wav(samples: np.ndarray, rate: int) -> bytes:
    """Mono int16 samples → the bytes of a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return out.getvalue()


class VerseCutter:
    """The verse being heard from one member; ``emit`` gets each finished one."""

    def __init__(self, user_id: int, options: VerseOptions, emit: Callable[[Verse], None]):
        self.user_id = user_id
        self.options = options
        self._emit = emit
        self.rate = rate = options.sample_rate  # every position and length below is in its samples
        self._frame = rate // 50  # one 20 ms frame: what an Opus silence frame stands for
        self._silence = round(options.silence_s * rate)
        self._min = round(options.min_s * rate)
        self._max = round(options.max_s * rate)
        # mean square of int16 samples at the quiet level
        self._quiet_ms = (32768.0 * 10 ** (options.quiet_dbfs / 20)) ** 2
        self._last_raw: int | None = None  # the newest RTP timestamp seen, as sent
        self._last_pos = 0  # ... and where it sits on an axis that never wraps (RTP clock)
        self._last_arrival = 0.0  # time.monotonic() of the newest packet
        self._start: int | None = None  # the open verse's first voiced sample
        self._voiced_end = 0  # the end of its last voiced frame
        self._chunks: list[tuple[int, np.ndarray]] = []  # (position, samples) of the verse
        self.too_short = 0  # takes dropped for being under min_s

    @property
    def open(self) -> bool:
        """Whether a verse has begun and not been delivered yet."""
        return self._start is not None

    def push(self, timestamp: int, pcm: np.ndarray | None, arrival: float) -> None:
        """One frame: ``pcm`` mono int16 samples at ``sample_rate``, or None for Opus
        silence (20 ms)."""
        pos = self._position(timestamp) * self.rate // RTP_RATE
        self._last_arrival = max(self._last_arrival, arrival)
        if self._start is not None and pos - self._voiced_end >= self._silence:
            self.finish("silence")  # the member came back after a pause: a new verse
        n = self._frame if pcm is None else len(pcm)
        voiced = pcm is not None and n > 0 and self._mean_square(pcm) >= self._quiet_ms
        if self._start is None:
            if not voiced:
                return
            self._start = pos
        if pos < self._start:
            return  # a late packet from before this verse began
        if pcm is not None and n:
            self._chunks.append((pos, pcm))
        if voiced:
            self._voiced_end = max(self._voiced_end, pos + n)
            if self._voiced_end - self._start >= self._max:
                self.finish("max_length")
        elif pos + n - self._voiced_end >= self._silence:
            self.finish("silence")

    def idle(self, now: float) -> None:
        """Ends the open verse once no packet has come for ``silence_s`` (Discord clients
        stop sending when the member is quiet)."""
        if self._start is not None and now - self._last_arrival >= self.options.silence_s:
            self.finish("silence")

    def finish(self, reason: str) -> Verse | None:
        """Delivers the open verse if it is long enough; forgets it either way."""
        start, end, chunks = self._start, self._voiced_end, self._chunks
        self._start, self._chunks = None, []
        if start is None:
            return None
        length = end - start
        if length < self._min:
            self.too_short += 1
            return None
        audio = np.zeros(length, np.int16)
        for pos, pcm in chunks:
            lo, hi = pos - start, min(pos - start + len(pcm), length)
            if hi > lo:
                audio[lo:hi] = pcm[: hi - lo]
        wav = to_wav(audio, self.rate)
        verse = Verse(self.user_id, wav, length / self.rate, self.rate, reason, time.time())
        self._emit(verse)
        return verse

    def _position(self, timestamp: int) -> int:
        """The packet's RTP timestamp on an axis that never wraps."""
        if self._last_raw is None:
            self._last_raw, self._last_pos = timestamp, 0
            return 0
        step = (timestamp - self._last_raw + _WRAP // 2) % _WRAP - _WRAP // 2
        pos = self._last_pos + step
        if step > 0:
            self._last_raw, self._last_pos = timestamp, pos
        return pos

    @staticmethod
    def _mean_square(pcm: np.ndarray) -> float:
        x = pcm.astype(np.float32)
        return float(np.dot(x, x)) / len(x)
