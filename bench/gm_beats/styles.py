"""What a General-MIDI beat is made of: constants, styles, families and the beat itself.

The settings every other module of ``bench.gm_beats`` reads: soundfont paths, parts and
their MIDI channels, effect sends and mix levels, drum notes, scales and progressions,
pitch ranges, timing and rendering constants; ``Style`` and ``STYLES`` (grooves and their
General-MIDI programs), ``Family`` and ``FAMILIES`` (a soundfont and the styles drawn from
it), the part mixes ``family_beats`` cycles through, ``GMBeat`` (one rendered beat) and
``GMBeatsUnavailable``.

Deliberately not here: composing notes (``compose``), MIDI (``midi``), running fluidsynth,
mixing or caching (``render``). This module imports nothing else of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOUNDFONTS: dict[str, Path] = {
    "fluid": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # apt: fluid-soundfont-gm
    "timgm": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),  # apt: timgm6mb-soundfont
}
PARTS = ("drums", "bass", "chords", "melody")
CHANNELS = {"bass": 0, "chords": 1, "melody": 2, "drums": 9}  # channel 10 (index 9): drums
# per part: reverb send (CC91), chorus send (CC93)
SENDS = {"drums": (20, 0), "bass": (0, 0), "chords": (50, 30), "melody": (40, 10)}
# Each part is rendered on its own (programs differ by 20 dB in loudness) and mixed at these
# active levels, relative to the drums, each moved by up to LEVEL_JITTER_DB per beat.
PART_LEVEL_DB = {"drums": 0.0, "bass": -2.0, "chords": -8.0, "melody": -5.0}
LEVEL_JITTER_DB = 2.0
ACTIVE_FRAME = 2048  # samples at RENDER_SR (46 ms) per frame when measuring a part's level
ACTIVE_RANGE_DB = 40.0  # frames within this of the part's loudest frame count as active
KICK, SNARE, SNARE2, CLAP, HAT, OPEN_HAT = 36, 38, 40, 39, 42, 46
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
# scale degrees (0 = i, 3 = iv, 4 = v/V, 5 = VI, 6 = VII), one chord per bar
MINOR_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 5, 2, 6),  # i VI III VII
    (0, 3, 6, 2),  # i iv VII III
    (0, 5, 3, 4),  # i VI iv V
    (0, 3, 4, 0),  # i iv V i
    (0, 6, 5, 6),  # i VII VI VII
    (0, 2, 3, 5),  # i III iv VI
    (0, 0, 5, 4),  # i i VI V
)
MELODY_RANGE = (57, 79)  # A3 (220 Hz) .. G5 (784 Hz): inside the voice's 200-900 Hz
CHORD_ROOTS = (50, 61)  # lowest chord note D3..C#4; chords stay below C5 + a 7th
BASS_ROOTS = (28, 39)  # E1..D#2
BEND_RANGE = 12  # semitones; set with RPN 0 on the bass channel, so an 808 can slide an octave
GLIDE_SECONDS = 0.09
TICKS_PER_BEAT = 480
BEATS_PER_BAR = 4
RENDER_SR = 44100
FLUIDSYNTH_GAIN = 0.6
FLUIDSYNTH_TIMEOUT_SECONDS = 300.0
PEAK = 0.9
FADE_SECONDS = 0.01
INSTALL_HINT = (
    "install it with `bash scripts/setup.sh --dev` or "
    "`apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont`"
)


class GMBeatsUnavailable(RuntimeError):
    """fluidsynth or the soundfont is missing: nothing can be rendered."""


@dataclass(frozen=True)
class Style:
    """A groove (drum, bass, chord and melody writing, chosen by ``name``) and its palette.

    ``swing``: where the off 16th of each 8th falls, as a share of the 8th (0.5 straight,
    2/3 triplet swing); ``kits``: drum-kit presets (bank 128); ``bass``, ``chords``,
    ``melody``: General-MIDI programs (0-based) that one beat draws from.
    """

    name: str
    bpm: tuple[float, float]
    swing: tuple[float, float]
    kits: tuple[int, ...]
    bass: tuple[int, ...]
    chords: tuple[int, ...]
    melody: tuple[int, ...]


# Programs: 0 grand, 1 bright grand, 4/5 electric pianos, 8 celesta, 10 music box,
# 11 vibraphone, 24 nylon guitar, 32 acoustic bass, 33 finger bass, 34 picked bass,
# 35 fretless, 38/39 synth bass 1/2 (the 808 stand-ins), 45 pizzicato, 46 harp, 48/49
# strings, 73 flute, 75 pan flute, 80 square lead, 81 saw lead, 89 warm pad, 91 choir pad,
# 95 sweep pad.
# Kits: 0 standard, 8 room, 16 power, 24 electronic, 25 TR-808, 32 jazz.
STYLES: dict[str, Style] = {
    "boombap": Style("boombap", (84, 91), (0.56, 0.62), (0, 8), (33, 32), (0, 48), (73, 24, 10)),
    "trap": Style("trap", (146, 160), (0.5, 0.5), (25,), (38,), (89, 48, 91), (8, 10, 81)),
    "rnb": Style("rnb", (70, 77), (0.52, 0.58), (0, 8), (33, 38), (4, 89), (73, 10, 8)),
    "lofi": Style("lofi", (78, 83), (0.58, 0.64), (32, 16), (35, 34), (5, 1), (11, 75, 46)),
    "drill": Style("drill", (138, 145), (0.5, 0.5), (25, 24), (39,), (49, 95), (45, 80, 46)),
}


@dataclass(frozen=True)
class Family:
    """A soundfont and the styles (with their tempo ranges and programs) drawn from it."""

    name: str
    soundfont: str
    styles: tuple[Style, ...]


FAMILIES: dict[str, Family] = {
    "gm-a": Family("gm-a", "fluid", (STYLES["boombap"], STYLES["trap"], STYLES["rnb"])),
    "gm-b": Family(
        "gm-b",
        "timgm",
        (
            Style("boombap", (92, 98), (0.5, 0.52), (16, 24), (34, 35), (1, 49), (75, 11, 46)),
            STYLES["drill"],
            STYLES["lofi"],
        ),
    ),
    # for TRAINING (the separator): programs that neither gm-a nor gm-b uses (organs,
    # harpsichord, clavinet, synth strings, choir and voice sounds, brass, reeds, mallets,
    # other leads), FluidR3, tempos across all styles; gm-a and gm-b stay unheard.
    "gm-train": Family(
        "gm-train",
        "fluid",
        (
            Style(
                "boombap",
                (76, 100),
                (0.5, 0.64),
                (0, 8, 16),
                (36, 37),
                (2, 16, 19, 50),
                (12, 13, 40, 56, 65, 85),
            ),
            Style(
                "trap",
                (125, 165),
                (0.5, 0.5),
                (24, 25),
                (37, 87),
                (88, 90, 92, 52),
                (14, 9, 54, 82, 84, 66),
            ),
            Style(
                "rnb",
                (62, 80),
                (0.52, 0.6),
                (0, 32),
                (36, 87),
                (3, 6, 17, 51, 93),
                (53, 71, 72, 74, 26),
            ),
            Style(
                "lofi",
                (70, 92),
                (0.56, 0.66),
                (8, 32),
                (37, 36),
                (7, 18, 94, 50),
                (12, 76, 78, 79, 41),
            ),
            Style(
                "drill",
                (134, 148),
                (0.5, 0.5),
                (24, 25),
                (87, 37),
                (92, 52, 19),
                (57, 64, 83, 25, 54),
            ),
        ),
    ),
}

# the training family again through the other soundfont (gm-b's programs, patterns and
# tempos stay unheard; its soundfont does not)
FAMILIES["gm-train-timgm"] = Family("gm-train-timgm", "timgm", FAMILIES["gm-train"].styles)

# part mixes family_beats cycles through: 3 of 5 with drums and tonal parts, then one
# tonal-only (chords + melody) and one drums-only
FULL_MIXES: tuple[tuple[str, ...], ...] = (
    PARTS,
    PARTS,
    ("drums", "bass", "chords"),
    ("drums", "bass", "melody"),
    ("drums", "chords", "melody"),
)
TONAL_ONLY = ("chords", "melody")
DRUMS_ONLY = ("drums",)


@dataclass(frozen=True, eq=False)
class GMBeat:
    """One rendered beat. ``beat_times`` and ``downbeats`` are in seconds from the start."""

    audio: np.ndarray  # float32 mono, peak PEAK
    sr: int
    bpm: float
    beat_times: np.ndarray
    downbeats: np.ndarray
    style: str
    parts: tuple[str, ...]
    soundfont: str  # "fluid", "timgm" or the path given
    seed: int
    key: str  # e.g. "F# minor"
    programs: tuple[tuple[str, int], ...]  # (part, program or drum kit) for every part played
