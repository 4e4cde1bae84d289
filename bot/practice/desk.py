"""The practice commands of the service: /target, /progress, /leaderboard, /share, and
the history row and target line of every analysed note.

:class:`PracticeDesk` belongs to one :class:`~bot.service.RapService` (``service.practice``)
and uses its store's history and its catalogue. Like the service, it never raises for a
member's mistake and answers with a :class:`~bot.reply.Reply`. It runs no inference:
the target's score and rank come with the note's own analysis (``AnalyzeJob.target``),
and the progress chart is drawn from stored numbers (``bot.charts``, in a thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ..jobs import Analysis, CatalogInfo
from ..member import Member
from ..reply import Reply
from ..store.history import History, NewTake
from . import replies as words
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
            before = await asyncio.to_thread(self.history.standing, *key, target)
            count = len(result.artist_scores) or len(self.catalog.artists if self.catalog else ())
            lead = words.target_line(result.target, result.target_rank, count, before, language)
        elif target:
            lead = words.target_gone(target, language)
        await asyncio.to_thread(self.history.record, member, self._take(target, result))
        return lead

    def _take(self, target: str, result: Analysis) -> NewTake:
        artists = tuple(a.name for a in self.catalog.artists) if self.catalog else ()
        scores = result.artist_scores
        if len(scores) != len(artists):  # the workers serve another artist list: no scores
            log.warning("%d artist scores for %d artists: not kept", len(scores), len(artists))
            artists, scores = (), ()
        t, top = result.target, result.matches[0]
        return NewTake(
            target=t.artist if t else "",
            target_score=t.score if t else None,
            target_rank=result.target_rank if t else None,
            top_artist=top.artist,
            top_score=top.score,
            style=result.voice.style,
            artists=artists,
            scores=scores,
        )

    # ---- commands ------------------------------------------------------------------------
    async def target(self, member: Member, arg: str, language: str) -> Reply:
        """/target (show), /target <artist> (set), /target clear."""
        key = (member.platform, member.member_id)
        current = await asyncio.to_thread(self.history.target, *key)
        name = " ".join(arg.split())
        if not name:
            return Reply(words.target_shown(current, language))
        if name.casefold() in CLEAR_WORDS and find_artist(name, self.artist_names()) is None:
            await asyncio.to_thread(self.history.set_target, *key, "")
            return Reply(words.target_cleared(current, language))
        artist = find_artist(name, self.artist_names())
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
        artist = target or takes[-1].top_artist
        chart = progress(takes, artist, self.catalog)
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
