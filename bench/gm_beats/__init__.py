"""Beats played by sampled General-MIDI instruments: a second beat family for tests and benches.

Members rap over real beats: an 808 or bass line, chords, a melody in the voice's own range
(200-900 Hz) and drums. This package writes such beats as MIDI (with ``mido``) and renders
them with the ``fluidsynth`` command line and a General-MIDI soundfont from Debian
(``fluid-soundfont-gm``: FluidR3_GM.sf2, ``timgm6mb-soundfont``: TimGM6mb.sf2), so that a
choice tuned on one beat family (e.g. the numpy synthesiser) can be confirmed on another
whose sounds come from recorded instruments. Each part is played by its own fluidsynth
process (in parallel) and the parts are mixed at set levels relative to the drums: GM
programs differ by 20 dB in loudness, so one shared render would bury the drums or the
melody depending on the programs drawn.

* ``render(style, bpm, seconds, seed, ...)`` -> ``GMBeat``: one beat, float32 mono at ``sr``,
  peak-normalised to ``PEAK``, with its beat and downbeat times. Everything that is
  composed (key, minor progression, melody notes from the scale, velocities, programs,
  arrangement) is drawn from ``seed``; every part is composed whatever ``parts`` asks for and
  only the requested ones are played, so a drums-only render has the full render's drums.
* ``FAMILIES`` / ``family_beats(family, n, seconds, seed)``: two disjoint families for
  "decide on one, confirm on the other": "gm-a" (FluidR3, boombap swung 84-91 BPM, trap
  146-160, rnb 70-77) and "gm-b" (TimGM6mb, boombap straight 92-98, drill 138-145, lofi
  78-83); tempo ranges and melodic programs do not overlap.
* ``cache_dir``: renders are stored there as ``.npz``, keyed by every argument and by the
  source of every module of this package, so tests and benchmarks render each beat once.

Its modules, each importing only the ones above it in this list:

* ``styles``: constants, ``Style`` / ``STYLES``, ``Family`` / ``FAMILIES``, the part mixes,
  ``GMBeat`` and ``GMBeatsUnavailable``;
* ``compose``: the notes of every part, drawn from one seed;
* ``midi``: those notes as MIDI events and files;
* ``render``: fluidsynth, the level mixing, the cache, ``render`` and ``family_beats``.

Deliberately not here: vocals or mixing a voice over the beat (``bench.conditions`` mixes),
mastering beyond peak normalisation, tempo changes or odd metres, audio effects other than
the soundfont's own reverb and chorus, downloading soundfonts (``scripts/setup.sh --dev``
installs fluidsynth and both fonts with apt).
"""

from __future__ import annotations

from .render import family_beats, render
from .styles import (
    FAMILIES,
    PARTS,
    SOUNDFONTS,
    STYLES,
    Family,
    GMBeat,
    GMBeatsUnavailable,
    Style,
)
from .styles import PEAK as PEAK  # not in __all__, but the tests read it

__all__ = [
    "FAMILIES",
    "PARTS",
    "SOUNDFONTS",
    "STYLES",
    "Family",
    "GMBeat",
    "GMBeatsUnavailable",
    "Style",
    "family_beats",
    "render",
]
