"""The practice desk without a platform: the target line with reach (a far target moves
take by take where resemblance reads 0), a timing goal as the target (/target tight,
/target pocket 60) with its line, notes with no timing, and /progress with reach and
timing, in English and Korean.

Reach comes from a real :class:`~inference.catalog.matching.Matcher` on a synthetic
catalogue (40 voices, 8 of them members), converted by the worker's own ``_match_out``;
the rest of an analysis is made here. The store is a real SQLite file.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from bot.jobs import Analysis, ArtistEntry, CatalogInfo, RhythmOut, Voice
from bot.member import Member
from bot.practice import charts
from bot.practice.desk import PracticeDesk
from bot.store.profiles import ProfileStore
from tests.test_resemblance import _matcher, _voices

REACH_LINE = re.compile(
    r"^Target (\w+): reach (\d+) \((.+)\), your #(\d+) closest of (\d+) artists\.$"
)
STYLE = (95.0, 3.1, 150.0, 4.0, -20.0, 12.0, 0.5, 0.2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        self.now += 60.0
        return self.now


@pytest.fixture(scope="module")
def voices():
    """A Matcher over 32 catalogue voices, and 8 member voices x 4 takes (embeddings)."""
    x, labels, groups = _voices(40, seed=3, clips=4)
    catalogue = labels < 32
    return _matcher(x[catalogue], labels[catalogue], groups[catalogue]), x[~catalogue]


@pytest.fixture
def desk(tmp_path, voices):
    matcher, _ = voices
    store = ProfileStore(tmp_path / "p.sqlite3", clock=Clock(), retention_days=3650)
    store.open()
    info = CatalogInfo(
        artists=tuple(ArtistEntry(a, 4, 40.0, False) for a in matcher.catalog.artists),
        encoder="test 0",
    )
    yield PracticeDesk(store.history, lambda: info)
    store.close()


def rhythm(offset: float = 40.0, spread: float = 30.0, grid: str = "beat") -> RhythmOut:
    return RhythmOut(
        grid=grid,
        bpm=90.0,
        offset_ms=offset,
        tightness_ms=spread,
        on_grid_share=0.6,
        syllables_per_beat=2.5,
        bar_density_change=1.0,
        rests=(0.1, 0.1, 0.2, 0.6),
        tempo_drift_pct=math.nan,
        swing=0.52,
        bar_offsets_ms=(offset,),
        syllables=40,
    )


def analysis(matcher, embedding, target: str = "", timing: RhythmOut | None = None) -> Analysis:
    """What a worker sends back for one note: matches and target from the Matcher
    (through the worker's ``_match_out``), a made-up rest."""
    from bot.pool.worker import _match_out

    sims = matcher.artist_similarities(embedding)
    matches = tuple(_match_out(m, "en") for m in matcher.ranked(sims, 5))
    found, rank = matcher.standing(sims, target, embedding) if target else (None, 0)
    return Analysis(
        matches=matches,
        style_lines=(),
        voice=Voice(np.zeros(4, np.float32), STYLE, np.zeros((64, 4), np.uint8), "test 0"),
        image_png=b"",
        duration_seconds=20.0,
        voiced_seconds=18.0,
        warnings=(),
        target=_match_out(found, "en") if found is not None else None,
        target_rank=rank,
        artist_scores=tuple(float(v) for v in matcher.resemblance.score(sims)),
        rhythm=timing,
    )


def note(desk: PracticeDesk, member: Member, result: Analysis, target: str = "", lang="en"):
    return asyncio.run(desk.record(member, target, result, lang))


def command(desk: PracticeDesk, member: Member, arg: str, lang: str = "en"):
    return asyncio.run(desk.target(member, arg, lang))


def far_target(matcher, takes: np.ndarray) -> str:
    """An artist outside the top 10 of every take."""
    ranks = []
    for e in takes:
        sims = matcher.artist_similarities(e)
        ranks.append([matcher.standing(sims, a)[1] for a in matcher.catalog.artists])
    worst = np.min(ranks, axis=0)
    return matcher.catalog.artists[int(np.argmax(worst > 10))]


def test_a_far_target_shows_a_signed_change_every_take(desk, voices) -> None:
    matcher, members = voices
    ann = Member("discord", "g1", "u1", "Ann")
    takes = members[:4]  # one member voice, four takes
    artist = far_target(matcher, takes)
    assert command(desk, ann, artist.lower()).text.startswith(f"Your target is {artist} now.")
    seen: list[int] = []
    for e in takes:
        result = analysis(matcher, e, artist)
        assert round(result.target.score) == 0  # resemblance: no way to see progress
        found = REACH_LINE.match(note(desk, ann, result, artist))
        assert found and found.group(1) == artist, found
        reach, change, rank = int(found.group(2)), found.group(3), int(found.group(4))
        assert reach == round(result.target.reach) and 0 < reach < 100 and rank > 10
        if not seen:
            assert change == "your first take toward them"
        else:
            delta = reach - seen[-1]
            head = "no change" if delta == 0 else f"{delta:+d}"
            assert change.startswith(f"{head} since your last take"), change
            tail = "a new best" if reach > max(seen) else f"best {max(*seen, reach)}"
            assert change.endswith(tail), change
        seen.append(reach)
    assert len(set(seen)) >= 3, seen  # it moves with the member
    kept = desk.history.takes("discord", "u1")
    assert [t.reach_of(artist) for t in kept] == seen


def test_a_worker_without_reach_keeps_the_resemblance_line(desk, voices) -> None:
    matcher, members = voices
    bo = Member("telegram", "c1", "u2", "Bo")
    artist = matcher.catalog.artists[0]
    command(desk, bo, artist)
    result = analysis(matcher, members[0], artist)
    old = replace(
        result,
        target=replace(result.target, reach=math.nan),
        matches=tuple(replace(m, reach=math.nan) for m in result.matches),
    )
    line = note(desk, bo, old, artist)
    assert re.match(rf"^Target {artist}: \d+ \(your first take toward them\), your #", line)
    assert desk.history.takes("telegram", "u2")[0].reach_of(artist) is None


def test_timing_goals_lead_every_reply(desk, voices) -> None:
    matcher, members = voices
    cy = Member("discord", "g1", "u3", "Cy")
    usage = command(desk, cy, "pocket")
    assert not usage.ok and usage.text.startswith("A timing goal is /target tight")
    assert not command(desk, cy, "tight 500").ok
    reply = command(desk, cy, "tight")
    assert reply.ok and reply.text.startswith("Your target is a timing goal now: tight.")
    assert command(desk, cy, "").text.startswith("Your target is a timing goal: tight.")
    assert desk.history.target("discord", "u3") == ""  # never sent to a worker as an artist

    e = members[8]
    first = note(desk, cy, analysis(matcher, e, timing=rhythm(spread=31.2)))
    assert first == "Timing goal tight: 31 ms spread (your first timed take)."
    second = note(desk, cy, analysis(matcher, e, timing=rhythm(spread=24.0)))
    assert second == "Timing goal tight: 24 ms spread (-7 ms since your last take, a new best)."
    pulse = note(desk, cy, analysis(matcher, e, timing=rhythm(0.0, 27.0, "own pulse")))
    assert pulse == (
        "Timing goal tight: 27 ms spread against your own pulse "
        "(+3 ms since your last take, best 24 ms)."
    )
    silent = note(desk, cy, analysis(matcher, e, timing=None))  # no rhythm: nothing breaks
    assert silent.startswith("Timing goal tight: I could not place enough syllables")
    after = note(desk, cy, analysis(matcher, e, timing=rhythm(spread=22.0)))
    assert after.endswith("(-5 ms since your last take, a new best).")  # the untimed take skipped

    assert command(desk, cy, "tight 20ms").text.startswith(
        "Your target is a timing goal now: tight, 20 ms spread."
    )
    reached = note(desk, cy, analysis(matcher, e, timing=rhythm(spread=19.6)))
    assert reached.endswith("a new best). Goal reached!")

    assert "measured over a beat" in command(desk, cy, "pocket 60").text
    pocket = note(desk, cy, analysis(matcher, e, timing=rhythm(offset=72.0)))
    assert pocket == (
        "Timing goal 60 ms behind the beat: you sat 72 ms behind the beat, 12 ms from it "
        "(-8 ms since your last take, a new best)."  # the earlier beat takes: 40 ms behind
    )
    bare = note(desk, cy, analysis(matcher, e, timing=rhythm(0.0, 20.0, "own pulse")))
    assert "no beat I could hear" in bare and "send a take over a beat" in bare
    ahead = command(desk, cy, "pocket -15")
    assert "15 ms ahead of the beat" in ahead.text

    # an artist replaces the goal; clear clears whichever is set
    artist = matcher.catalog.artists[3]
    command(desk, cy, artist)
    assert desk.history.timing_goal("discord", "u3") == ""
    assert note(desk, cy, analysis(matcher, e, artist), artist).startswith(f"Target {artist}:")
    command(desk, cy, "tight")
    assert command(desk, cy, "clear").text.startswith("Target cleared")
    assert note(desk, cy, analysis(matcher, e, timing=rhythm())) == ""


def test_an_artist_called_like_a_goal_is_the_artist(tmp_path) -> None:
    store = ProfileStore(tmp_path / "p.sqlite3", clock=Clock())
    store.open()
    names = ("Tight", "Bravo")
    info = CatalogInfo(tuple(ArtistEntry(a, 4, 40.0, False) for a in names), "test 0")
    desk = PracticeDesk(store.history, lambda: info)
    dee = Member("discord", "g1", "u4", "Dee")
    assert command(desk, dee, "tight").text.startswith("Your target is Tight now.")
    assert command(desk, dee, "tight 20").text.startswith("Your target is a timing goal now")
    store.close()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_progress_charts_reach_and_timing(desk, voices, lang) -> None:
    matcher, members = voices
    eve = Member("discord", "g1", f"u5{lang}", "Eve")
    artist = far_target(matcher, members[4:8])
    command(desk, eve, artist)
    for i, e in enumerate(members[4:8]):
        timing = rhythm(offset=90.0 - 10 * i, spread=40.0 - 5 * i) if i != 1 else None
        note(desk, eve, analysis(matcher, e, artist, timing), artist, lang)
    reply = asyncio.run(desk.progress(eve, lang))
    assert reply.ok and reply.image_png and reply.image_png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(reply.image_png))
    panels = charts.SCORE_IN + charts.TIMING_IN + charts.MARGINS_IN  # no style tracks here
    assert image.size == (800, round(panels * charts.DPI))  # the timing panel is in
    if lang == "en":
        latest = desk.history.takes("discord", eve.member_id)[-1].reach_of(artist)
        assert "Best reach " in reply.text and f"latest {latest}." in reply.text
        assert "Timing: best 25 ms spread (" in reply.text and "latest 25 ms." in reply.text
    else:
        assert re.search(r"[\uac00-\ud7a3]", reply.text)
        assert not re.search(r"\b(reach|spread|latest|takes)\b", reply.text), reply.text
    command(desk, eve, "pocket 60", lang)
    reply = asyncio.run(desk.progress(eve, lang))
    if lang == "en":
        assert "Pocket 60 ms behind the beat: closest 0 ms from it (" in reply.text
        assert "Your target is a timing goal" in reply.text
