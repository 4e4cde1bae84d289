"""Flow: how a note rides its grid (the beat's, else the member's own pulse).

:func:`measure` takes the analysed window (the isolated voice over a beat), its speech
mask and the accompaniment when one played, and returns an :class:`~inference.types.Rhythm`:
the syllables on a 16th grid with their signed deviations, and the flow metrics defined
in docs/flow.md. ``onsets`` finds syllable (vowel) onsets, ``grid`` the beat's grid or the
member's own pulse, ``metrics`` the numbers. It does not isolate voices, word advice or
draw: the pipeline, the bot and ``inference.picture`` do.
"""

from __future__ import annotations

import numpy as np

from ..constants import SAMPLE_RATE
from ..types import Rhythm
from .grid import Grid, beat_grid, own_pulse
from .metrics import rhythm
from .onsets import syllable_onsets

__all__ = ["MIN_SYLLABLES", "Grid", "measure", "warmup"]

MIN_SYLLABLES = 8  # fewer syllables place no grid


def measure(
    voice: np.ndarray, speech: np.ndarray | None = None, beat: np.ndarray | None = None
) -> Rhythm | None:
    """The note's rhythm; None when it has too few syllables or follows no pulse.

    voice: float32 16 kHz mono (the isolated voice when a beat played); speech: bool per
    VAD frame of it; beat: the accompaniment (same length) when a beat played: the grid
    is then the beat's (own pulse only if the accompaniment has no steady pulse)."""
    onsets = syllable_onsets(voice, speech)
    if onsets.size < MIN_SYLLABLES:
        return None
    grid = beat_grid(beat) if beat is not None else None
    if grid is None:
        grid = own_pulse(onsets)
    if grid is None:
        return None
    return rhythm(onsets, grid, speech, voice.size / SAMPLE_RATE)


def warmup() -> None:
    """Compile librosa's numba code on this path once per process."""
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    clicks = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    buzz = (0.2 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32)
    measure(buzz, None, clicks * 0.3)
