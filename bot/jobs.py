"""What travels between the bot and the inference workers: plain, picklable data.

Jobs and results are frozen dataclasses of str, float, bytes and numpy arrays, so any
transport (a pipe to a local process today, a queue spanning machines later) can carry
them. Nothing here imports ``inference``; ``bot.pool.worker`` converts its results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# /compare images need only a small spectrogram per member: the analysis window's mel image
# (64 bands x 50 frames/s x 30 s) max-pooled 4x in time, about 24 KB per profile.
PROFILE_MEL_POOL = 4


@dataclass(frozen=True)
class AnalyzeJob:
    audio: bytes = field(repr=False)
    filename: str
    top_k: int = 5
    # the artist the member practises toward ("" none): scored and ranked in the same
    # analysis, and the image and tips compare with them instead of the top match
    target: str = ""
    language: str = "en"  # of the image and the score phrases ("en", "ko")


@dataclass(frozen=True)
class Voice:
    """What a stored profile holds of one analysis; enough to compare two members."""

    embedding: np.ndarray = field(repr=False)  # float32 (dim,), L2-normalised, encoder space
    style: tuple[float, ...]  # StyleProfile values in feature order (nan: not measured)
    mel: np.ndarray = field(repr=False)  # uint8 (64, frames), PROFILE_MEL_POOL x pooled
    encoder: str  # "<name> <version>": profiles from another encoder are not comparable


@dataclass(frozen=True)
class CompareJob:
    a: Voice
    b: Voice
    labels: tuple[str, str]
    language: str = "en"


@dataclass(frozen=True)
class MatchOut:
    artist: str
    score: float  # 0..100 resemblance (inference.catalog.resemblance): what members are told
    demo: bool
    identity: float = 0.0  # 0..100 chance that this is the artist's own voice
    maybe_self: bool = False  # identity high enough to say so
    meaning: str = ""  # what the score means, in words ("closer than most ...")
    # 0..100 reach, the practice score (inference.catalog.resemblance.Reach): moves for far
    # artists too, where ``score`` reads 0; nan from a worker that does not measure it
    reach: float = float("nan")


@dataclass(frozen=True)
class StyleLine:
    """One style feature of the member next to the top artist's, ready to print."""

    name: str  # StyleProfile field name, e.g. "syllable_rate"
    label: str  # "Flow (syllable rate)"
    mine: float  # nan when not measured
    theirs: float  # the top artist's; nan when not measured
    mine_text: str  # "3.1 syll/s"
    theirs_text: str
    span: float  # the feature's usual range, to weigh differences between features


@dataclass(frozen=True)
class RhythmOut:
    """How a note rode its grid (``inference.types.Rhythm`` without the syllables)."""

    grid: str  # "beat" or "own pulse"
    bpm: float
    offset_ms: float  # median deviation from the 16th grid; positive = behind the beat
    tightness_ms: float  # spread after each bar's own offset
    on_grid_share: float  # 0..1 within 30 ms of the grid after the offset
    syllables_per_beat: float
    bar_density_change: float
    rests: tuple[float, ...]  # share of breaths starting on beat 1..4
    tempo_drift_pct: float  # own pulse only (nan with a beat)
    swing: float  # off-beat 16ths' place in their 8th: 0.50 straight .. 0.67 triplet
    bar_offsets_ms: tuple[float, ...]  # per bar (nan: too few syllables)
    syllables: int  # how many were placed


@dataclass(frozen=True)
class Analysis:
    matches: tuple[MatchOut, ...]  # best first
    style_lines: tuple[StyleLine, ...]
    voice: Voice
    image_png: bytes = field(repr=False)
    duration_seconds: float
    voiced_seconds: float
    warnings: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    target: MatchOut | None = None  # the job's target artist (None: none, or not known)
    target_rank: int = 0  # the target's place among all the catalogue's artists, 1 = closest
    artist_scores: tuple[float, ...] = ()  # resemblance to every artist, CatalogInfo order
    rhythm: RhythmOut | None = None  # timing (None: too few syllables to place)


@dataclass(frozen=True)
class Comparison:
    score: float  # 0..100 resemblance: how alike, against pairs of different artists
    closest: tuple[str, str]  # each member's top catalogue artist
    image_png: bytes = field(repr=False)
    maybe_same_voice: bool = False  # alike enough to be one person's two notes
    meaning: str = ""  # what the score means, in words


@dataclass(frozen=True)
class ArtistEntry:
    name: str
    clips: int
    seconds: float
    demo: bool
    style: tuple[float, ...] = ()  # the artist's style profile, StyleFeature order (nan: n/a)


@dataclass(frozen=True)
class StyleFeature:
    """How one style feature is named, written and weighed, as the workers measure it."""

    name: str  # StyleProfile field name
    label: str  # "Flow (syllable rate)": English, a message id of the i18n catalogue
    unit: str  # "{value} syll/s": English template, a message id
    digits: int  # decimals shown
    percent: bool  # shown as a percentage (the value is a fraction)
    lo: float  # the feature's usual range, to weigh differences between features
    hi: float


@dataclass(frozen=True)
class CatalogInfo:
    """What a worker reports when it is ready: the catalogue it searches, and its encoder."""

    artists: tuple[ArtistEntry, ...]
    encoder: str  # "<name> <version>"
    features: tuple[StyleFeature, ...] = ()  # the style features, in StyleProfile order

    def by_name(self) -> tuple[ArtistEntry, ...]:
        """The artists sorted by name (case-insensitive), as members see them listed."""
        return tuple(sorted(self.artists, key=lambda e: e.name.lower()))


@dataclass(frozen=True)
class JobFailure:
    """Why a job produced no result, as it travels back from a worker on another machine."""

    kind: str  # "rejected" (the input), "error", "crashed" or "timeout"
    message: str  # a sentence for the member


@dataclass(frozen=True)
class WorkerInfo:
    """What a broker worker announces (refreshed while it lives): who it is, what it serves."""

    worker_id: str
    host: str
    pid: int
    concurrency: int  # jobs it runs at once
    device: str
    catalog_id: str  # sha256 prefix of the catalogue's manifest: same id, same catalogue
    catalog: CatalogInfo
    jobs: int = 0  # answered since it started
    failures: int = 0  # of which crashed, timed out or failed (not the member's input)
    p50_ms: float = 0.0  # job time over the last 200 jobs
    p95_ms: float = 0.0
