"""Result dataclasses shared by the pipeline, the CLI and the bots (frozen, numpy-free API).

Arrays that travel with a result (embeddings, spectrograms) are numpy arrays; everything a
person reads is plain Python (str, float, tuples).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np


@dataclass(frozen=True)
class StyleProfile:
    """How someone raps, measured on the analysed window. Units are in the field names.

    ``nan`` means "could not be measured" (for example no pitched frames).
    """

    tempo_bpm: float  # beats per minute of the onset envelope (the beat's when one plays)
    syllable_rate: float  # syllable nuclei per second of voiced time
    pitch_median_hz: float  # median fundamental frequency of voiced frames
    pitch_range_semitones: float  # 10th to 90th percentile of f0, in semitones
    energy_db: float  # mean RMS level of voiced frames, dBFS, before loudness normalisation
    energy_dynamics_db: float  # spread of frame loudness (90th minus 10th percentile), dB
    brightness_hz: float  # mean spectral centroid of voiced frames
    pause_ratio: float  # share of the window with no voice, 0..1

    @classmethod
    def feature_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_array(self) -> np.ndarray:
        """The features in ``feature_names()`` order, float32 shape (8,)."""
        return np.array([getattr(self, n) for n in self.feature_names()], dtype=np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> StyleProfile:
        return cls(*(float(v) for v in np.asarray(values, dtype=np.float64).ravel()))

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if v != v else round(float(v), 3)) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Syllable:
    """One syllable of the note placed on the rhythm grid."""

    time_s: float  # its onset (the vowel's rise) in the analysed window, seconds
    bar: int  # 0-based bar of the grid it falls in
    slot: int  # 0..15: the nearest 16th note of that bar
    deviation_ms: float  # signed distance to that 16th; positive = late (behind the grid)


@dataclass(frozen=True)
class Rhythm:
    """How the note rides its grid: the beat's when one plays, else the member's own pulse.

    Every metric is defined in docs/flow.md. ``nan`` means not measurable (too few
    syllables); ``tempo_drift_pct`` is measured against the member's own pulse only.
    """

    grid: str  # "beat" (tracked from the accompaniment) or "own pulse" (from the syllables)
    bpm: float  # the grid's tempo
    beat_s: float  # the grid's beat period, seconds
    downbeat_s: float  # where bar 0 starts in the analysed window (may be < 0), seconds
    swing: (
        float  # where the member's off-beat 16ths sit in their 8th: 0.50 straight .. 0.67 triplet
    )
    offset_ms: float  # median signed deviation from the 16th grid; positive = behind
    tightness_ms: float  # robust spread of the deviations after each bar's own offset
    on_grid_share: float  # share of syllables within 30 ms of the grid, after the offset
    syllables_per_beat: float  # while rapping (rests left out)
    bar_density_change: float  # mean change of syllables per bar from one bar to the next
    rests: tuple[float, ...]  # share of the breaths (rests) that start on beat 1, 2, 3, 4
    tempo_drift_pct: float  # own pulse: the pulse's tempo change from start to end, %
    bar_offsets_ms: tuple[float, ...]  # per bar, its median deviation (nan: < 2 syllables)
    syllables: tuple[Syllable, ...] = ()

    @property
    def bars(self) -> int:
        return len(self.bar_offsets_ms)

    def as_dict(self) -> dict:
        """The JSON object of ``rapsim analyze --json`` (``rhythm``)."""

        def num(v: float, digits: int = 1) -> float | None:
            return None if v != v else round(float(v), digits)

        return {
            "grid": self.grid,
            "bpm": num(self.bpm),
            "offset_ms": num(self.offset_ms),
            "tightness_ms": num(self.tightness_ms),
            "on_grid_share": num(self.on_grid_share, 3),
            "syllables_per_beat": num(self.syllables_per_beat, 2),
            "bar_density_change": num(self.bar_density_change, 2),
            "rests": [num(r, 3) for r in self.rests],
            "tempo_drift_pct": num(self.tempo_drift_pct),
            "swing": num(self.swing, 3),
            "bars": self.bars,
            "bar_offsets_ms": [num(v) for v in self.bar_offsets_ms],
            "syllables": [
                {
                    "t": round(s.time_s, 3),
                    "bar": s.bar,
                    "slot": s.slot,
                    "dev_ms": round(s.deviation_ms, 1),
                }
                for s in self.syllables
            ],
        }


# From this identity chance on, a reply says the note may be the artist themself. At 80,
# leave-voices-out on two corpora: 80-84 % of the artists' own clean notes, 3.5-3.9 % of
# voices not in the catalogue (all near-copies: formant variants of one synthesiser).
IDENTITY_SHOWN = 80.0


@dataclass(frozen=True)
class Match:
    """One catalogue artist and how close the input is to them."""

    artist: str
    # 0..100 resemblance: the share of the catalogue's artist-to-nearest-artist
    # similarities (artists held out) that this one beats (``inference.catalog.resemblance``)
    score: float
    similarity: float  # raw aggregated cosine similarity in the matching space, -1..1
    demo: bool = False  # a demo voice from the bundled catalogue, not a real artist
    # 0..100: the chance, calibrated on held-out recordings of the catalogue, that a
    # clip this close is the artist's own voice (~0 for anyone not in the catalogue)
    identity: float = 0.0
    # 0..100 reach, the practice score: the similarity on a straight line over the whole
    # catalogue (0 its least alike artist pair, 100 where ``score`` reads 99), so it moves
    # for far artists too, where ``score`` reads 0 (``inference.catalog.resemblance.Reach``)
    reach: float = float("nan")

    @property
    def maybe_self(self) -> bool:
        """Whether to say "this may be the artist themself"."""
        return self.identity >= IDENTITY_SHOWN


@dataclass(frozen=True)
class AnalysisResult:
    """What the analyser says about one recording."""

    matches: tuple[Match, ...]  # best first
    style: StyleProfile
    readings: tuple[str, ...]  # one plain-language line per style feature
    top_artist_style: StyleProfile | None
    embedding: np.ndarray = field(repr=False)  # float32 (dim,), L2-normalised, encoder space
    spectrogram: np.ndarray = field(repr=False)  # uint8 (N_MELS, frames), for images/profiles
    duration_seconds: float = 0.0  # of the decoded input
    voiced_seconds: float = 0.0  # voice kept for embedding
    warnings: tuple[str, ...] = ()  # e.g. clipping, beat suppressed, input cut at 5 min
    image_png: bytes | None = field(default=None, repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # A target artist (AnalyzerOptions.target), from the same similarities as ``matches``:
    # its Match, its rank among all the catalogue's artists (1 = closest) and its style.
    target: Match | None = None
    target_rank: int = 0
    target_style: StyleProfile | None = None
    artist_scores: tuple[float, ...] = ()  # resemblance to every artist, catalogue order
    rhythm: Rhythm | None = None  # timing against the beat or own pulse (None: too few syllables)

    def to_json_dict(self) -> dict:
        return {
            "matches": [
                {"artist": m.artist, "score": round(m.score, 1), "identity": round(m.identity, 1)}
                for m in self.matches
            ],
            "style": self.style.as_dict(),
            "rhythm": self.rhythm.as_dict() if self.rhythm is not None else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ComparisonResult:
    """How alike two recordings sound."""

    score: float  # 0..100 resemblance: the share of pairs of different artists less alike
    similarity: float  # raw cosine
    identity: float  # 0..100 chance that recordings this alike are one voice
    a: AnalysisResult
    b: AnalysisResult
    image_png: bytes | None = field(default=None, repr=False)

    @property
    def maybe_same_voice(self) -> bool:
        return self.identity >= IDENTITY_SHOWN


# How each style feature is shown: label, a format for the value, and the range that maps
# to an empty..full bar in images (values outside are clipped for drawing only).
STYLE_DISPLAY: dict[str, tuple[str, str, float, float]] = {
    "tempo_bpm": ("Tempo", "{:.0f} BPM", 60.0, 180.0),
    "syllable_rate": ("Flow (syllable rate)", "{:.1f} syll/s", 1.0, 8.0),
    "pitch_median_hz": ("Pitch", "{:.0f} Hz", 70.0, 350.0),
    "pitch_range_semitones": ("Pitch range", "{:.1f} st", 0.0, 16.0),
    "energy_db": ("Energy", "{:.0f} dBFS", -50.0, -5.0),
    "energy_dynamics_db": ("Dynamics", "{:.0f} dB", 0.0, 30.0),
    "brightness_hz": ("Brightness (tone)", "{:.0f} Hz", 500.0, 4000.0),
    "pause_ratio": ("Pauses", "{:.0%}", 0.0, 0.8),
}

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def hz_to_note(hz: float) -> str:
    """Nearest equal-tempered note name, e.g. 110.0 -> 'A2'; '' for nan or <= 0."""
    if np.isnan(hz) or hz <= 0:
        return ""
    midi = round(69 + 12 * float(np.log2(hz / 440.0)))
    return f"{_NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def format_style_value(name: str, value: float) -> str:
    """A feature's value as people read it ('92 BPM', '148 Hz (D3)'); 'n/a' for nan."""
    if np.isnan(value):
        return "n/a"
    text = STYLE_DISPLAY[name][1].format(value)
    if name == "pitch_median_hz":
        text += f" ({hz_to_note(value)})"
    return text
