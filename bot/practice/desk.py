"""The practice commands of the service: /target, /progress, /leaderboard, /share, and
the history row and target line of every analysed note.

A member's target is an artist (``/target <artist>``) or a timing goal (``/target
tight``, ``/target tight 20``, ``/target pocket 60``: ``bot.practice.timing``), one at a
time. The history keeps the artist as ``target`` (which the service sends to the
workers) and the goal beside it, so a timing goal never reaches a worker as an artist.

:class:`PracticeDesk` belongs to one :class:`~bot.service.RapService` (``service.practice``)
and uses its store's history and its catalogue. Like the service, it never raises for a
member's mistake and answers with a :class:`~bot.reply.Reply`. It runs no inference:
the target's score and rank come with the note's own analysis (``AnalyzeJob.target``),
and the progress chart is drawn from stored numbers (``bot.charts``, in a thread).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence

from ..jobs import Analysis, CatalogInfo
from ..member import Member
from ..reply import Reply
from ..store.history import History, NewTake
from . import replies as words
from . import timing
from .progress import close_artists, find_artist, progress

log = logging.getLogger(__name__)

CLEAR_WORDS = frozenset({"clear", "off", "none", "해제", "지우기"})
ON_WORDS, OFF_WORDS = frozenset({"on", "켜기"}), frozenset({"off", "끄기"})


class PracticeDesk:
    def __init__(self, history: History, catalog: Callable[[], CatalogInfo | None]) -> None:
        self.history = history
        self._catalog = catalog  # the service's: a distributed pool learns it after start

    @property
    def catalog(self) -> CatalogInfo | None:
        return self._catalog()

    def artist_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.catalog.by_name()) if self.catalog else ()

    # ---- every note ----------------------------------------------------------------------
    async def record(self, member: Member, target: str, result: Analysis, language: str) -> str:
        """Keep the note's history row; the line that leads its reply ("" without target)."""
        key = (member.platform, member.member_id)
        lead = ""
        if result.target is not None:
            by_reach = math.isfinite(result.target.reach)
            before = await asyncio.to_thread(self.history.standing, *key, target, by_reach)
            count = len(result.artist_scores) or len(self.catalog.artists if self.catalog else ())
            lead = words.target_line(result.target, result.target_rank, count, before, language)
        elif target:
            lead = words.target_gone(target, language)
        elif goal := timing.parse_goal(await asyncio.to_thread(self.history.timing_goal, *key)):
            takes = await asyncio.to_thread(self.history.takes, *key)
            before_goal = timing.standing(takes, goal)
            lead = words.timing_line(goal, result.rhythm, before_goal, language)
        await asyncio.to_thread(self.history.record, member, self._take(target, result))
        return lead

    def _take(self, target: str, result: Analysis) -> NewTake:
        artists = tuple(a.name for a in self.catalog.artists) if self.catalog else ()
        scores = result.artist_scores
        if len(scores) != len(artists):  # the workers serve another artist list: no scores
            log.warning("%d artist scores for %d artists: not kept", len(scores), len(artists))
            artists, scores = (), ()
        t, top, rhythm = result.target, result.matches[0], result.rhythm
        reach = {m.artist: m.reach for m in (*result.matches, *([t] if t else []))}
        return NewTake(
            target=t.artist if t else "",
            target_score=t.score if t else None,
            target_rank=result.target_rank if t else None,
            top_artist=top.artist,
            top_score=top.score,
            style=result.voice.style,
            artists=artists,
            scores=scores,
            reaches=tuple(reach.get(a, math.nan) for a in artists),
            grid=rhythm.grid if rhythm else "",
            offset_ms=rhythm.offset_ms if rhythm else math.nan,
            tightness_ms=rhythm.tightness_ms if rhythm else math.nan,
            on_grid_share=rhythm.on_grid_share if rhythm else math.nan,
        )

    # ---- commands ------------------------------------------------------------------------
    async def target(self, member: Member, arg: str, language: str) -> Reply:
        """/target (show), /target <artist> or <timing goal> (set), /target clear. An
        artist's name wins over a goal's words (an artist called "Tight")."""
        key = (member.platform, member.member_id)
        current = await asyncio.to_thread(self.history.target, *key)
        goal = timing.parse_goal(await asyncio.to_thread(self.history.timing_goal, *key))
        name = " ".join(arg.split())
        if not name:
            return Reply(words.target_shown(current, language, goal))
        artist = find_artist(name, self.artist_names())
        if name.casefold() in CLEAR_WORDS and artist is None:
            await asyncio.to_thread(self.history.set_target, *key, "")
            return Reply(words.target_cleared(current or (goal.text if goal else ""), language))
        if artist is None and timing.is_timing(name):
            new = timing.parse_goal(name)
            if new is None:
                return Reply(words.goal_usage(language), ok=False)
            await asyncio.to_thread(self.history.set_target, *key, "", new.text)
            return Reply(words.goal_set(new, language))
        if artist is None:
            close = close_artists(name, self.artist_names())
            return Reply(words.target_unknown(name, close, language), ok=False)
        await asyncio.to_thread(self.history.set_target, *key, artist)
        return Reply(words.target_set(artist, language))

    async def suggestions(self, member: Member, limit: int = 6) -> list[str]:
        """Artists to offer as targets: the member's latest top matches, else (a small
        catalogue) every artist."""
        takes = await asyncio.to_thread(self.history.takes, member.platform, member.member_id)
        if takes and takes[-1].catalogue.artists:
            last = takes[-1]
            ranked = sorted(last.catalogue.artists, key=lambda a: -(last.score_of(a) or 0))
            known = set(self.artist_names())
            return [a for a in ranked if a in known][:limit]
        names = sorted(self.artist_names(), key=str.casefold)
        return names if len(names) <= limit else []

    async def progress(self, member: Member, language: str) -> Reply:
        """/progress: a chart of the member's takes against their target (else their
        latest top artist)."""
        from .charts import render_progress

        key = (member.platform, member.member_id)
        takes = await asyncio.to_thread(self.history.takes, *key)
        if len(takes) < 2:
            return Reply(words.progress_needs_takes(len(takes), language), ok=False)
        target = await asyncio.to_thread(self.history.target, *key)
        goal = timing.parse_goal(await asyncio.to_thread(self.history.timing_goal, *key))
        artist = target or takes[-1].top_artist
        chart = progress(takes, artist, self.catalog, goal)
        png = await asyncio.to_thread(render_progress, chart, language)
        return Reply(words.progress_caption(chart, bool(target), language), png)

    async def leaderboard(self, member: Member, arg: str, language: str) -> Reply:
        """/leaderboard <artist>: this scope's sharing members, best take of the week."""
        if member.scope.startswith("dm:") or member.scope == member.member_id:
            return Reply(words.server_only(language), ok=False)
        if not arg.strip():
            return Reply(words.leaderboard_usage(language), ok=False)
        artist = find_artist(arg, self.artist_names())
        if artist is None:
            close = close_artists(arg, self.artist_names())
            return Reply(words.target_unknown(" ".join(arg.split()), close, language), ok=False)
        entries = await asyncio.to_thread(
            self.history.leaderboard, member.platform, member.scope, artist
        )
        return Reply(words.leaderboard(artist, entries, language))

    async def share(self, member: Member, arg: str, language: str) -> Reply:
        """/share on|off in this scope; /share alone says which."""
        if member.scope.startswith("dm:") or member.scope == member.member_id:
            return Reply(words.server_only(language), ok=False)
        choice = arg.strip().casefold()
        if choice not in ON_WORDS | OFF_WORDS:
            on = await asyncio.to_thread(self.history.shares, member)
            return Reply(words.share_state(on, False, language))
        on = choice in ON_WORDS
        was = await asyncio.to_thread(self.history.share, member, on)
        return Reply(words.share_state(on, was != on, language))


def artist_choices(names: Sequence[str], typed: str, limit: int = 25) -> list[str]:
    """Autocomplete: names starting with what was typed, then names containing it."""
    key = " ".join(typed.casefold().split())
    starts = [n for n in names if n.casefold().startswith(key)]
    inside = [n for n in names if key in n.casefold() and n not in starts]
    return [*sorted(starts, key=str.casefold), *sorted(inside, key=str.casefold)][:limit]
