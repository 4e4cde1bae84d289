"""Is a beat playing under the voice? If so, the voice without it, and where it raps.

Members rap over beats whose 808, chords and melody sit in the voice's own range: a
pitch or VAD test takes the melody for a voice. :func:`listen` asks the separator
(:mod:`inference.audio.separate`) for the voice, the accompaniment and a per-frame voice
probability, and decides:

- **no voice** (less than ``MIN_VOICED_SECONDS`` of frames the separator calls voice): a
  beat sent without rapping, or a voice the beat drowns. ``BeatWithoutVoiceError`` when
  something plays, so the member hears "I hear a beat but no voice".
- **a beat under the voice** (the accompaniment within ``BEAT_HEARD_DB`` of the voice's
  level): the isolated voice, its voiced frames and the accompaniment go on to the
  embedding and the style measures; the beat's tempo comes from the accompaniment.
- **a clean take**: nothing changes (``None``): the take is analysed exactly as before.

The separator runs on every note (about 40 ms per 30 s on one core): a melody or a
vocal-like lead with quiet gaps between its phrases looks like a clean take to every
cheaper test. A note whose quiet frames fall to a noise floor between words
(:func:`quiet_between`) has no beat under it and is analysed as before, whatever the
separator says of its level: a clean take is never altered.

It does not load the separator (the pipeline does, once per process), cut windows or
normalise levels (``prepare``), or measure style.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constants import MIN_VOICED_SECONDS, SAMPLE_RATE, VAD_FRAME_SAMPLES
from ..errors import BeatWithoutVoiceError, NoVoiceError
from .separate import VoiceSeparator

__all__ = ["BEAT_HEARD_DB", "Isolated", "listen", "quiet_between"]

# A clean take's quietest 10 % of 30 ms frames sit this far below its loud frames (room
# noise between words); under a beat they never do.
QUIET_FLOOR_DB = -35.0
QUIET_PERCENTILES = (10.0, 95.0)
# A beat is heard when the accompaniment's mean power is within this of the voice's
# active power (what is left of a clean take is far quieter; members rap 0-5 dB above).
BEAT_HEARD_DB = -15.0
ACTIVITY_THRESHOLD = 0.5  # the separator's P(voice) that counts as voice
ACTIVE_RANGE_DB = 40.0  # voice frames within this of its loudest count for its level


@dataclass(frozen=True, eq=False)
class Isolated:
    """A note over a beat: the voice, the beat and the voice's frames, input-aligned."""

    voice: np.ndarray = field(repr=False)  # float32, the isolated voice
    beat: np.ndarray = field(repr=False)  # float32, the accompaniment (input - voice)
    speech: np.ndarray = field(repr=False)  # bool per VAD frame: the separator hears voice
    beat_db: float  # accompaniment power over the voice's active power, dB


def _frame_db(wav: np.ndarray) -> np.ndarray:
    n = wav.size // VAD_FRAME_SAMPLES
    frames = wav[: n * VAD_FRAME_SAMPLES].reshape(n, VAD_FRAME_SAMPLES).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def quiet_between(wav: np.ndarray) -> bool:
    """True when the note falls to a quiet floor between words (nothing plays under it)."""
    db = _frame_db(wav)
    if db.size == 0:
        return True
    low, high = np.percentile(db, QUIET_PERCENTILES)
    return bool(low - high < QUIET_FLOOR_DB)


def _active_db(wav: np.ndarray) -> float:
    db = _frame_db(wav)
    if db.size == 0:
        return -120.0
    active = db[db > db.max() - ACTIVE_RANGE_DB]
    return float(10.0 * np.log10(np.mean(10.0 ** (active / 10.0))))


def listen(wav: np.ndarray, separator: VoiceSeparator) -> Isolated | None:
    """The voice isolated from a beat under it; None for a clean take (quiet between
    words, or nothing left after the voice). Raises NoVoiceError (BeatWithoutVoiceError
    when something plays) when the separator hears too little voice."""
    sep = separator.separate(wav)
    speech = sep.voiced(ACTIVITY_THRESHOLD, VAD_FRAME_SAMPLES)[: wav.size // VAD_FRAME_SAMPLES]
    mean_beat = float(np.mean(np.square(sep.accompaniment, dtype=np.float64)))
    beat_db = 10.0 * np.log10(mean_beat + 1e-12) - _active_db(sep.voice)
    voiced_s = np.count_nonzero(speech) * VAD_FRAME_SAMPLES / SAMPLE_RATE
    if voiced_s < MIN_VOICED_SECONDS:
        if beat_db > BEAT_HEARD_DB or not np.any(speech):
            raise BeatWithoutVoiceError(
                "I hear a beat but no voice: send a take of you rapping over it"
            )
        raise NoVoiceError(
            f"only {voiced_s:.1f} s of voice found; rap closer to the mic for a few seconds"
        )
    if beat_db <= BEAT_HEARD_DB or quiet_between(wav):
        return None
    return Isolated(sep.voice, sep.accompaniment, speech, round(beat_db, 1))
