"""The timing line of a reply: one tip about how the note rode its grid, EN and KO."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bot.jobs import RhythmOut
from bot.timing import timing_line

NAN = math.nan
STEADY = RhythmOut(
    grid="beat",
    bpm=92.0,
    offset_ms=62.0,
    tightness_ms=21.0,
    on_grid_share=0.81,
    syllables_per_beat=2.6,
    bar_density_change=1.5,
    rests=(0.1, 0.1, 0.2, 0.6),
    tempo_drift_pct=NAN,
    swing=0.52,
    bar_offsets_ms=(60.0, 65.0, 58.0, 63.0),
    syllables=80,
)


def line(**changes) -> str:
    return timing_line(dataclasses.replace(STEADY, **changes))


def test_a_steady_laid_back_take_is_praised() -> None:
    text = line()
    assert text.startswith("Timing (on the beat, 92 BPM): you sit 62 ms behind the beat")
    assert "laid-back" in text and "±21 ms" in text and "81 %" in text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"offset_ms": -48.0}, "you rush, 48 ms ahead"),
        ({"offset_ms": 150.0}, "you drag 150 ms behind"),
        ({"tightness_ms": 55.0}, "scatter ±55 ms"),
        ({"bar_offsets_ms": (60.0, 62.0, 5.0, 0.0)}, "but bars 3-4 rush"),
        ({"bar_offsets_ms": (60.0, 130.0, 61.0, 59.0)}, "but bar 2 drags"),
    ],
)
def test_the_tip_that_matters_most(changes, words) -> None:
    assert words in line(**changes)


def test_rushing_comes_before_looseness() -> None:
    assert "rush" in line(offset_ms=-60.0, tightness_ms=70.0)


def test_own_pulse_talks_about_the_pulse() -> None:
    text = line(grid="own pulse", tempo_drift_pct=-7.0)
    assert text.startswith("Timing (your own pulse, 92 BPM): you slow down 7 %")
    assert "steady: ±21 ms, 81 % on your grid" in line(grid="own pulse", tempo_drift_pct=1.0)
    assert "behind the beat" not in line(grid="own pulse", tempo_drift_pct=1.0)


def test_nothing_is_said_without_enough_syllables() -> None:
    assert timing_line(None) == ""
    assert line(syllables=5) == ""
    assert line(offset_ms=NAN) == ""


def test_korean() -> None:
    text = timing_line(dataclasses.replace(STEADY, offset_ms=-48.0), "ko")
    assert "48" in text and "Timing" not in text
