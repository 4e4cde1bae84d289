"""Syllables on a grid, and the flow metrics of docs/flow.md.

Every syllable onset is placed on the nearest 16th of the grid (swung as the grid is) and
keeps its signed deviation, positive = late (behind the beat). From those:

* ``offset_ms``: the median deviation (where the member sits: pros 40-100 ms behind).
* ``tightness_ms``: 1.4826 x the median absolute deviation of the deviations after each
  bar's own median (a bar with fewer than ``MIN_BAR_SYLLABLES`` uses the note's offset):
  the spread a per-bar fit leaves (pros ~16-28 ms).
* ``on_grid_share``: syllables within ``ON_GRID_MS`` of the grid after the offset.
* ``syllables_per_beat``: syllables over the beats in which the member raps (a beat with
  voice in it); rests are left out (pros ~2.1-3.2).
* ``bar_density_change``: the mean absolute change of syllables per bar between
  consecutive bars, over the bars from the first syllable's to the last's.
* ``rests``: the pauses of at least ``MIN_REST_SECONDS`` in the voice, by the beat of the
  bar they start on (shares of beats 1-4; pros breathe most on beat 4).
* ``tempo_drift_pct`` (own pulse): the pulse's tempo at the last syllable over the first's.
* ``swing``: the member's own swing (``grid.syllable_swing``).
"""

from __future__ import annotations

import numpy as np

from ..constants import SAMPLE_RATE, VAD_FRAME_SAMPLES
from ..types import Rhythm, Syllable
from .grid import BEATS_PER_BAR, SLOTS_PER_BEAT, Grid, syllable_swing

SLOTS_PER_BAR = SLOTS_PER_BEAT * BEATS_PER_BAR
ON_GRID_MS = 30.0
MIN_BAR_SYLLABLES = 3  # a bar's own offset needs this many syllables
MIN_REST_SECONDS = 0.25  # a pause this long is a breath / rest
MAD_TO_SIGMA = 1.4826
MIN_EIGHTH_RESULTANT = 0.3  # below it, the onsets' place in their 8th says no offset
LATE_BIAS_S = 0.01  # an offset within a 16th is read in [-q/2 + this, q/2 + this)


def place(onsets: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(16th index, bar, deviation in ms) of every onset on the grid.

    A member who sits 100 ms behind a fast beat is past the middle of a 16th: each onset
    goes to the 16th nearest to it *after the member's own offset*, which is the circular
    mean of the onsets' place in their 8th (so it may be up to a 16th either way; in
    their 16th when the onsets fill every 16th evenly and the 8ths say nothing)."""
    n = grid.sixteenths(onsets)
    nearest = np.round(n - _circular_offset(n, grid.beat_s / SLOTS_PER_BEAT))
    deviation = (onsets - grid.time_of(nearest)) * 1000.0
    bars = np.floor_divide(nearest, SLOTS_PER_BAR).astype(int)
    return nearest.astype(int), bars, deviation


def _circular_offset(n: np.ndarray, sixteenth_s: float) -> float:
    """The member's offset in 16ths, from the circular mean at the 8th, else the 16th
    (then wrapped toward late by LATE_BIAS_S: half a 16th late or early look the same on a
    16th grid, and rappers sit behind the beat far more often than ahead of it)."""
    z8 = np.exp(1j * np.pi * n).mean()  # one turn per 8th (2 16ths)
    if abs(z8) >= MIN_EIGHTH_RESULTANT:
        return float(np.angle(z8) / np.pi)
    offset = float(np.angle(np.exp(2j * np.pi * n).mean()) / (2 * np.pi))
    bias = LATE_BIAS_S / sixteenth_s
    return offset + 1.0 if offset < bias - 0.5 else offset


def rhythm(onsets: np.ndarray, grid: Grid, speech: np.ndarray | None, window_s: float) -> Rhythm:
    """The metrics of syllable ``onsets`` (s, ascending) on ``grid``; ``speech`` is the
    voice's bool mask per VAD frame (for rests and the beats rapped in)."""
    index, bars, dev = place(onsets, grid)
    first_bar = int(bars.min())
    bar_ids = np.arange(first_bar, int(bars.max()) + 1)
    offset = float(np.median(dev))
    bar_offsets = np.array(
        [float(np.median(dev[bars == b])) if np.sum(bars == b) >= 2 else np.nan for b in bar_ids]
    )
    own = np.array(
        [
            float(np.median(dev[bars == b])) if np.sum(bars == b) >= MIN_BAR_SYLLABLES else offset
            for b in bar_ids
        ]
    )
    residual = dev - own[bars - first_bar]
    tightness = MAD_TO_SIGMA * float(np.median(np.abs(residual - np.median(residual))))
    counts = np.bincount(bars - first_bar, minlength=bar_ids.size)
    density_change = float(np.mean(np.abs(np.diff(counts)))) if counts.size > 1 else np.nan
    beats_rapped = _beats_with_voice(grid, speech, window_s)
    drift = np.nan
    if grid.drift:
        n = grid.sixteenths(onsets[[0, -1]])
        q = grid.sixteenth_s(n)
        drift = float(100.0 * (q[0] / q[1] - 1.0))  # tempo = 1 / period
    elif grid.kind == "own pulse":
        drift = 0.0
    syllables = tuple(
        Syllable(float(t), int(b - first_bar), int(i % SLOTS_PER_BAR), float(d))
        for t, b, i, d in zip(onsets, bars, index, dev, strict=True)
    )
    return Rhythm(
        grid=grid.kind,
        bpm=float(grid.bpm),
        beat_s=float(grid.beat_s),
        downbeat_s=float(grid.downbeat_s + first_bar * BEATS_PER_BAR * grid.beat_s),
        swing=syllable_swing(onsets, grid, offset / 1000) if grid.kind == "beat" else grid.swing,
        offset_ms=offset,
        tightness_ms=tightness,
        on_grid_share=float(np.mean(np.abs(dev - offset) <= ON_GRID_MS)),
        syllables_per_beat=float(onsets.size / beats_rapped) if beats_rapped else np.nan,
        bar_density_change=density_change,
        rests=_rests(grid, speech),
        tempo_drift_pct=drift,
        bar_offsets_ms=tuple(float(v) for v in bar_offsets),
        syllables=syllables,
    )


def _speech_runs(speech: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.diff(np.concatenate(([0], speech.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _beats_with_voice(grid: Grid, speech: np.ndarray | None, window_s: float) -> int:
    """How many beats of the grid hold voice (all the window's beats without a mask)."""
    frame_s = VAD_FRAME_SAMPLES / SAMPLE_RATE
    if speech is None or not np.any(speech):
        return int(window_s / grid.beat_s)
    times = (np.flatnonzero(speech) + 0.5) * frame_s
    beats = np.floor(grid.sixteenths(times) / SLOTS_PER_BEAT)
    return int(np.unique(beats).size)


def _rests(grid: Grid, speech: np.ndarray | None) -> tuple[float, ...]:
    """Share of the rests (pauses >= MIN_REST_SECONDS between voiced runs) starting on
    each beat of the bar; all nan when there is none."""
    if speech is None:
        return (np.nan,) * BEATS_PER_BAR
    speech = np.asarray(speech, dtype=bool)
    starts, ends = _speech_runs(speech)
    frame_s = VAD_FRAME_SAMPLES / SAMPLE_RATE
    gaps_start = ends[:-1] * frame_s  # a rest starts where a voiced run ends
    gaps_len = (starts[1:] - ends[:-1]) * frame_s
    rest_times = gaps_start[gaps_len >= MIN_REST_SECONDS]
    if rest_times.size == 0:
        return (np.nan,) * BEATS_PER_BAR
    beat = np.floor(np.round(grid.sixteenths(rest_times)) / SLOTS_PER_BEAT).astype(int)
    counts = np.bincount(beat % BEATS_PER_BAR, minlength=BEATS_PER_BAR)
    return tuple(float(c / counts.sum()) for c in counts)
