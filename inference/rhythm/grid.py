"""The grid a note is measured against: the beat's, or the member's own pulse.

A :class:`Grid` is a steady pulse: a beat period, where bar 0 starts, how far the off-beat
16ths are swung, and (own pulse only) a slow change of tempo. 16th slots of a beat sit at
0, 1/4 + d, 1/2 and 3/4 + d of it, where d is the swing delay (``swing`` = where the
off-beat 16th sits in its 8th: 0.50 straight, 0.67 triplet feel, MPC swing %).

* :func:`beat_grid`, from an accompaniment: the tempo whose beat and its 2 and 4
  subdivisions carry the most onset energy (Fourier sums of the onset strength at each
  candidate rate, 60-180 BPM, then a fine search around the best), the beat's phase from
  the same sums, bar 1 where the low band (kick, 808) hits hardest, the swing where the
  off-beat 16ths of the folded onset strength peak.
* :func:`own_pulse`, from syllable onsets when nothing plays: the coarsest 16th grid that
  fits the onsets almost as well as the best (finer grids always fit), its phase putting
  most syllables on beats, then a quadratic fit of onset time against 16th index for
  tempo drift.

It never claims a beat that is not there: ``beat_grid`` is only called when the separator
heard an accompaniment, and returns None when that accompaniment has no steady pulse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .onsets import BEAT_HOP, SAMPLE_RATE, beat_envelope

BEATS_PER_BAR = 4
SLOTS_PER_BEAT = 4
COARSE_STEP_BPM = 0.25
FINE_SPAN = 0.005  # the fine search covers +-0.5 % around the coarse tempo
FINE_STEP = 0.0005  # in steps of 0.05 %
# The onset strength rises a frame before a hit lands (its 64 ms window reaches it first):
# 15 / 9 / 15 ms early on numpy / FluidR3 / TimGM6mb beats against their written grid
ONSET_LEAD_S = 0.013
SPECTRUM_SIZE = 1 << 17  # 10 ms frames: 0.00076 Hz (0.05 BPM) between bins
SUBDIVISIONS = (1, 2, 3, 4)  # beat, 8th, 8th triplet, 16th: the rates a beat's hits follow
MIN_PULSE_STRENGTH = 0.08  # below this normalised comb energy the accompaniment has no pulse
PREFERRED_BPM = (75.0, 150.0)  # the grid's tempo is halved or doubled into this range
SWING_RANGE = (0.5, 0.72)
SWING_MIN_GAIN = 1.15  # a swung grid must fit this much better than a straight one
# Own pulse: 16th periods searched, and how much worse a coarser grid may fit to be taken
OWN_BPM_RANGE = (60.0, 160.0)
OWN_STEP_BPM = 0.25
OWN_COARSER_SHARE = 0.8


@dataclass(frozen=True)
class Grid:
    kind: str  # "beat" or "own pulse"
    beat_s: float  # beat period at the start
    downbeat_s: float  # start of bar 0 (may be before the window)
    swing: float  # 0.5 straight .. 0.72
    drift: float = 0.0  # own pulse: change of the 16th period per 16th (s), 0 for a beat

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_s

    def sixteenths(self, times: np.ndarray) -> np.ndarray:
        """Continuous 16th index of each time (0 = bar 0's downbeat), swing undone."""
        q = self.beat_s / SLOTS_PER_BEAT
        if self.drift:
            # t = downbeat + q n + drift n^2 / 2, solved for n
            a, b, c = self.drift / 2, q, self.downbeat_s - np.asarray(times, dtype=float)
            n = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
        else:
            n = (np.asarray(times, dtype=float) - self.downbeat_s) / q
        return _unswing(n, self.swing)

    def time_of(self, n: np.ndarray) -> np.ndarray:
        """Time of (possibly fractional, straight) 16th indices, swing applied."""
        n = _reswing(np.asarray(n, dtype=float), self.swing)
        q = self.beat_s / SLOTS_PER_BEAT
        return self.downbeat_s + q * n + self.drift * n * n / 2

    def sixteenth_s(self, n: np.ndarray) -> np.ndarray:
        """Local 16th period at 16th index n (s)."""
        return self.beat_s / SLOTS_PER_BEAT + self.drift * np.asarray(n, dtype=float)


def _unswing(n: np.ndarray, swing: float) -> np.ndarray:
    """Swung 16th positions back to straight ones: within each 8th (2 16ths), the
    off-beat 16th at ``swing`` of the 8th maps to its middle; piecewise linear."""
    if abs(swing - 0.5) < 1e-6:
        return n
    eighth = np.floor(n / 2)
    u = n / 2 - eighth  # 0..1 within the 8th
    s = swing
    straight = np.where(u < s, 0.5 * u / s, 0.5 + 0.5 * (u - s) / (1 - s))
    return 2 * (eighth + straight)


def _reswing(n: np.ndarray, swing: float) -> np.ndarray:
    if abs(swing - 0.5) < 1e-6:
        return n
    eighth = np.floor(n / 2)
    u = n / 2 - eighth
    s = swing
    swung = np.where(u < 0.5, u * s / 0.5, s + (u - 0.5) * (1 - s) / 0.5)
    return 2 * (eighth + swung)


# ---- from a beat -----------------------------------------------------------------------
def beat_grid(beat: np.ndarray) -> Grid | None:
    """The grid of an accompaniment (16 kHz float32); None when it has no steady pulse."""
    full, low = beat_envelope(beat)
    if full.size < 200 or full.max() <= 1e-6:
        return None
    env = full - full.mean()
    frame_s = BEAT_HOP / SAMPLE_RATE
    norm = float(np.sqrt(np.sum(env * env) * env.size)) + 1e-12
    # the onset strength's spectrum, zero-padded so fine that reading it at any rate is a
    # linear interpolation (0.05 BPM between bins): the Fourier sum at that rate
    spectrum = np.fft.rfft(env, n=SPECTRUM_SIZE)
    bin_hz = 1.0 / (frame_s * SPECTRUM_SIZE)
    bins = np.arange(spectrum.size)

    def comb(bpms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per tempo: the onset energy at its beat, 8th, triplet and 16th rates, and the
        beat-rate Fourier sum (its angle is the beat's phase)."""
        f = bpms / 60.0 / bin_hz
        score = np.zeros(bpms.size)
        z1 = np.zeros(bpms.size, dtype=complex)
        for k in SUBDIVISIONS:
            z = np.interp(k * f, bins, spectrum.real) + 1j * np.interp(k * f, bins, spectrum.imag)
            score += np.abs(z) / norm
            if k == 1:
                z1 = z
        return score, z1

    # one octave is searched (the grid is written within it), then finely around the best
    coarse = np.arange(*PREFERRED_BPM, COARSE_STEP_BPM)
    score, _ = comb(coarse)
    centre = float(coarse[int(np.argmax(score))])
    fine = centre * (1 + np.arange(-FINE_SPAN, FINE_SPAN + FINE_STEP / 2, FINE_STEP))
    fscore, fphase = comb(fine)
    i = int(np.argmax(fscore))
    if fscore[i] < MIN_PULSE_STRENGTH:
        return None
    bpm, z1 = float(fine[i]), complex(fphase[i])
    period = 60.0 / bpm
    # the beat pulses where the fundamental's phase points: e^{-i 2 pi f t} summed
    first_beat = float((-np.angle(z1) / (2 * np.pi)) % 1.0 * period)
    first_beat = _beat_phase(env, frame_s, period, first_beat) + ONSET_LEAD_S
    downbeat = _downbeat(low, frame_s, period, first_beat)
    swing = _beat_swing(env, frame_s, period, downbeat)
    return Grid("beat", period, downbeat, swing)


def _fold(bpm: float) -> float:
    """Half or double a tempo into PREFERRED_BPM (hip-hop is written within it)."""
    lo, hi = PREFERRED_BPM
    while np.isfinite(bpm) and bpm > hi:
        bpm /= 2
    while np.isfinite(bpm) and bpm < lo:
        bpm *= 2
    return bpm


def _beat_phase(env: np.ndarray, frame_s: float, period: float, first: float) -> float:
    """The beat's phase: the shift (over a whole beat) whose beat positions carry the most
    onset strength (the Fourier phase alone is pulled by off-beat hits)."""
    shifts = np.arange(-0.5, 0.5, 0.01) * period
    beats = first + np.arange(-1, env.size * frame_s / period + 1) * period
    t = np.arange(env.size) * frame_s
    scores = [np.interp(beats + s, t, env, left=0.0, right=0.0).sum() for s in shifts]
    return first + float(shifts[int(np.argmax(scores))])


def _downbeat(low: np.ndarray, frame_s: float, period: float, first: float) -> float:
    """Bar 1 on the beat (of 4) where the low band hits hardest; before the window start."""
    t = np.arange(low.size) * frame_s
    bar = BEATS_PER_BAR * period
    sums = []
    for k in range(BEATS_PER_BAR):
        starts = first + k * period + np.arange(0, t[-1] / bar + 1) * bar
        sums.append(np.interp(starts, t, low, left=0.0, right=0.0).sum())
    start = first + int(np.argmax(sums)) * period
    return start - np.ceil(start / bar) * bar if start > 0 else start


def _beat_swing(env: np.ndarray, frame_s: float, period: float, downbeat: float) -> float:
    """Where the off-beat 16ths of the accompaniment peak within their 8th (0.5: straight)."""
    t = np.arange(env.size) * frame_s
    eighth = period / 2
    candidates = np.arange(SWING_RANGE[0], SWING_RANGE[1] + 1e-9, 0.01)
    n = np.arange(0, t[-1] / eighth + 1)
    starts = downbeat + n * eighth
    scores = np.array(
        [np.interp(starts + s * eighth, t, env, left=0.0, right=0.0).sum() for s in candidates]
    )
    best = int(np.argmax(scores))
    if scores[0] <= 0 or scores[best] < SWING_MIN_GAIN * scores[0]:
        return 0.5
    return float(candidates[best])


# ---- from the syllables ------------------------------------------------------------------
def own_pulse(onsets: np.ndarray) -> Grid | None:
    """The member's own pulse from syllable onsets (s): the best fit, however loose (the
    metrics then say how loose); None under 8 onsets."""
    onsets = np.asarray(onsets, dtype=float)
    if onsets.size < 8:
        return None
    bpms = np.arange(*OWN_BPM_RANGE, OWN_STEP_BPM)
    q = 60.0 / bpms / SLOTS_PER_BEAT  # 16th periods
    z = np.exp(2j * np.pi * np.outer(1.0 / q, onsets)).mean(axis=1)
    z8 = np.exp(1j * np.pi * np.outer(1.0 / q, onsets)).mean(axis=1)
    # the 16th's coherence, and the 8th's, which loose timing blurs less
    r = np.abs(z) + np.abs(z8)
    best = int(np.argmax(r))
    # finer grids (higher tempos) always fit as well: the coarsest almost as good wins
    good = np.flatnonzero(r >= OWN_COARSER_SHARE * r[best])
    pick = int(good[np.argmin(bpms[good])])
    # then the local maximum around it
    lo, hi = max(0, pick - 8), min(r.size, pick + 9)
    pick = lo + int(np.argmax(r[lo:hi]))
    q16 = float(q[pick])
    phase = (np.angle(z[pick]) / (2 * np.pi)) % 1.0 * q16  # where the 16ths fall
    n = np.round((onsets - phase) / q16)
    # beats: the 16th phase (of 4) holding the most syllables is on the beat
    counts = np.bincount((n % SLOTS_PER_BEAT).astype(int), minlength=SLOTS_PER_BEAT)
    on_beat = int(np.argmax(counts))
    n = n - on_beat
    origin = phase + on_beat * q16
    # bar 0 starts on the first beat at or before the first syllable
    n0 = np.floor(n.min() / (SLOTS_PER_BEAT * BEATS_PER_BAR)) * SLOTS_PER_BEAT * BEATS_PER_BAR
    n = n - n0
    origin += n0 * q16
    # fit t = a + q n + drift n^2 / 2 (least squares) twice, reassigning 16th indices
    a, q_fit, drift = origin, q16, 0.0
    for _ in range(2):
        grid = Grid("own pulse", SLOTS_PER_BEAT * q_fit, a, 0.5, drift)
        n = np.round(grid.sixteenths(onsets))
        design = np.stack([np.ones_like(n), n, n * n / 2], axis=1)
        coef, *_ = np.linalg.lstsq(design, onsets, rcond=None)
        a, q_fit, drift = (float(c) for c in coef)
        if q_fit <= 0:
            return None
    grid = Grid("own pulse", SLOTS_PER_BEAT * q_fit, a, 0.5, drift)
    return Grid("own pulse", grid.beat_s, a, syllable_swing(onsets, grid), drift)


def syllable_swing(onsets: np.ndarray, grid: Grid, offset_s: float = 0.0) -> float:
    """Where the member's off-beat 16ths sit in their 8th: the median position of the
    syllables that fall between the 8ths (0.5 when none do), after the member's offset
    (a rapper 80 ms behind a straight beat is late, not swung)."""
    straight = Grid(grid.kind, grid.beat_s, grid.downbeat_s + offset_s, 0.5, grid.drift)
    n = straight.sixteenths(onsets)
    u = (n / 2) % 1.0  # position within the 8th
    off = u[(u > 0.3) & (u < 0.8)]
    if off.size < 4:
        return 0.5
    value = float(np.median(off))
    return 0.5 if abs(value - 0.5) < 0.03 else float(np.clip(value, *SWING_RANGE))
