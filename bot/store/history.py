"""The practice history: one compact row per take, each member's target and locale, and
who shares their takes on a server's leaderboard.

A take row holds the time, the target and the resemblance to it, its rank, the top
artist and score, the 8 style numbers, and the resemblance to every artist of the
catalogue as one byte each (so progress and leaderboards work for any artist, and a
change of target keeps the earlier takes comparable); the reach (the practice score with
no floor) toward the artists the note was scored against (its top matches and target),
one byte each as well; its timing (grid kind, offset, tightness, on-grid share); and
the cypher round it was a verse of, if any (``bot.store.rounds``).
No audio, no embedding. Rows older than the history period are deleted and never
served; ``ProfileStore.forget`` deletes a member's rows with their profiles, in one
transaction. Each member has one target: an artist, or a timing goal.

It shares the :class:`~bot.store.profiles.ProfileStore`'s connection, lock and clock; calls are
blocking and short (the service runs them in a thread). It computes nothing about voices.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..member import Member


class Database(Protocol):
    """What the history uses of :class:`~bot.store.profiles.ProfileStore`: its
    connection (one write transaction at a time, reads under its lock) and its clock."""

    clock: Callable[[], float]

    def write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def read(self, sql: str, args: tuple = ()) -> list[tuple]: ...


WEEK_S = 7 * 86400.0
NO_REACH = 255  # a reach byte for an artist the note was not scored against
NAN = float("nan")
# the cypher round a take recorded now belongs to (set by bot.store.rounds.in_round)
ROUND: ContextVar[int | None] = ContextVar("rapsim_round", default=None)


@dataclass(frozen=True)
class Catalogue:
    """The artists a take's scores are aligned with (shared by every take of it)."""

    artists: tuple[str, ...]
    index: dict[str, int] = field(repr=False, compare=False)

    @classmethod
    def of(cls, artists: Sequence[str]) -> Catalogue:
        return cls(tuple(artists), {a: i for i, a in enumerate(artists)})


@dataclass(frozen=True)
class NewTake:
    """What the service records of one analysed note."""

    target: str  # "" when none was set
    target_score: float | None
    target_rank: int | None
    top_artist: str
    top_score: float
    style: tuple[float, ...]
    artists: tuple[str, ...]  # the catalogue's artists, in its order
    scores: tuple[float, ...]  # resemblance 0..100 to each of them
    reaches: tuple[float, ...] = ()  # reach 0..100 to each of them (nan: not scored); ()
    grid: str = ""  # the timing's grid: "beat", "own pulse"; "" not timed
    offset_ms: float = NAN  # median deviation from the 16th grid, positive = behind
    tightness_ms: float = NAN  # spread after each bar's own offset
    on_grid_share: float = NAN  # 0..1 within 30 ms of the grid after the offset

    def score_bytes(self) -> bytes:
        values = np.clip(np.rint(np.nan_to_num(np.asarray(self.scores, float))), 0, 100)
        return values.astype(np.uint8).tobytes()

    def reach_bytes(self) -> bytes | None:
        if not self.reaches:
            return None
        values = np.asarray(self.reaches, float)
        known = np.clip(np.rint(np.nan_to_num(values)), 0, 100)
        return np.where(np.isfinite(values), known, NO_REACH).astype(np.uint8).tobytes()


@dataclass(frozen=True)
class Take:
    """One take as the history holds it."""

    created_at: float
    scope: str
    display_name: str
    target: str
    target_score: float | None
    target_rank: int | None
    top_artist: str
    top_score: float
    style: tuple[float, ...]  # nan: not measured
    catalogue: Catalogue = field(repr=False)
    scores: bytes = field(repr=False)
    reaches: bytes = field(default=b"", repr=False)  # NO_REACH: not scored against
    grid: str = ""  # "" not timed (no rhythm, or kept before timing was)
    offset_ms: float = NAN
    tightness_ms: float = NAN
    on_grid_share: float = NAN
    round_id: int | None = None  # the cypher round it was a verse of (None: a plain note)

    def score_of(self, artist: str) -> int | None:
        """This take's resemblance to ``artist`` (whole points), None if not in its catalogue."""
        i = self.catalogue.index.get(artist)
        return None if i is None or i >= len(self.scores) else self.scores[i]

    def reach_of(self, artist: str) -> int | None:
        """This take's reach toward ``artist`` (whole points), None if not scored."""
        i = self.catalogue.index.get(artist)
        value = None if i is None or i >= len(self.reaches) else self.reaches[i]
        return None if value == NO_REACH else value


@dataclass(frozen=True)
class Standing:
    """Where a member stood with an artist before this take: the previous take's score
    and the best of all earlier takes (whole points; None: no earlier take)."""

    previous: int | None
    best: int | None
    takes: int  # earlier takes kept


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` deleted about one member."""

    profiles: dict[str, int]  # scope -> analyses deleted
    takes: int = 0
    target: bool = False
    shares: int = 0


@dataclass(frozen=True)
class Entry:
    """One line of a leaderboard."""

    member_id: str
    display_name: str
    best: int  # best resemblance this week, whole points
    takes: int  # takes this week in this scope


class History:
    def __init__(self, store: Database, keep_s: float) -> None:
        self.store = store
        self.keep_s = keep_s
        self._catalogue_ids: dict[tuple[str, ...], int] = {}
        self._catalogues: dict[int, Catalogue] = {}

    def _cutoff(self) -> float:
        return self.store.clock() - self.keep_s

    # ---- takes ---------------------------------------------------------------------------
    def record(self, member: Member, take: NewTake) -> None:
        style = json.dumps([None if not math.isfinite(v) else float(v) for v in take.style])
        with self.store.write() as db:
            row = (
                member.platform,
                member.scope,
                member.member_id,
                member.display_name,
                self.store.clock(),
                take.target,
                take.target_score,
                take.target_rank,
                take.top_artist,
                take.top_score,
                style,
                self._catalogue_id(db, take.artists),
                take.score_bytes(),
                take.reach_bytes(),
                take.grid,
                _real(take.offset_ms),
                _real(take.tightness_ms),
                _real(take.on_grid_share),
                ROUND.get(),
            )
            db.execute(
                "INSERT INTO takes (platform, scope, member_id, display_name, created_at, "
                "target, target_score, target_rank, top_artist, top_score, style, catalog_id, "
                "scores, reaches, grid, offset_ms, tightness_ms, on_grid_share, round_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def _catalogue_id(self, db: sqlite3.Connection, artists: tuple[str, ...]) -> int:
        known = self._catalogue_ids.get(artists)
        if known is not None:
            return known
        text = json.dumps(list(artists), ensure_ascii=False)
        db.execute("INSERT OR IGNORE INTO catalogs (artists) VALUES (?)", (text,))
        found = db.execute("SELECT id FROM catalogs WHERE artists = ?", (text,)).fetchone()[0]
        self._catalogue_ids[artists] = found
        return found

    def _catalogue(self, catalog_id: int) -> Catalogue:
        if catalog_id not in self._catalogues:
            rows = self.store.read("SELECT artists FROM catalogs WHERE id = ?", (catalog_id,))
            self._catalogues[catalog_id] = Catalogue.of(json.loads(rows[0][0]) if rows else [])
        return self._catalogues[catalog_id]

    def takes(self, platform: str, member_id: str, scope: str | None = None) -> list[Take]:
        """A member's unexpired takes, oldest first (in every scope, or in ``scope``)."""
        where = "platform = ? AND member_id = ? AND created_at >= ?"
        args: list[str | float] = [platform, member_id, self._cutoff()]
        if scope is not None:
            where += " AND scope = ?"
            args.append(scope)
        return self._select(where, tuple(args))

    def _select(self, where: str, args: tuple) -> list[Take]:
        rows = self.store.read(
            "SELECT created_at, scope, display_name, target, target_score, target_rank, "
            "top_artist, top_score, style, catalog_id, scores, reaches, grid, offset_ms, "
            f"tightness_ms, on_grid_share, round_id FROM takes WHERE {where} "
            "ORDER BY created_at, id",
            args,
        )
        out = []
        for row in rows:
            created, scope, name, target, t_score, t_rank, top, top_score, style = row[:9]
            cat, sc, reaches, grid, offset, tight, share, round_id = row[9:]
            offset_ms, tightness_ms, on_grid = (
                NAN if v is None else float(v) for v in (offset, tight, share)
            )
            out.append(
                Take(
                    created,
                    scope,
                    name,
                    target,
                    t_score,
                    t_rank,
                    top,
                    top_score,
                    tuple(math.nan if v is None else float(v) for v in json.loads(style)),
                    self._catalogue(cat),
                    bytes(sc),
                    bytes(reaches or b""),
                    grid,
                    offset_ms,
                    tightness_ms,
                    on_grid,
                    round_id,
                )
            )
        return out

    def standing(self, platform: str, member_id: str, artist: str, reach: bool = False) -> Standing:
        """The member's earlier takes against ``artist``: previous and best score (with
        ``reach``: reach, from the latest take that was scored against them)."""
        takes = self.takes(platform, member_id)
        scores: list[int | None] = [t.score_of(artist) for t in takes]
        if reach:
            scores = [r for r in (t.reach_of(artist) for t in takes) if r is not None]
        known = [s for s in scores if s is not None]
        previous = scores[-1] if scores else None
        return Standing(previous, max(known) if known else None, len(takes))

    def count(self, platform: str | None = None, member_id: str | None = None) -> int:
        where, args = "", []
        if platform is not None:
            where, args = " WHERE platform = ?", [platform]
        if member_id is not None:
            where += (" AND" if where else " WHERE") + " member_id = ?"
            args.append(member_id)
        return self.store.read(f"SELECT COUNT(*) FROM takes{where}", tuple(args))[0][0]

    def purge(self, db: sqlite3.Connection) -> int:
        """Delete takes past the history period (inside the caller's transaction)."""
        return db.execute("DELETE FROM takes WHERE created_at < ?", (self._cutoff(),)).rowcount

    # ---- targets and locales -------------------------------------------------------------
    def target(self, platform: str, member_id: str) -> str:
        return self._member_field("target", platform, member_id)

    def timing_goal(self, platform: str, member_id: str) -> str:
        """The member's timing goal as they set it ("tight", "pocket 60"; "" none)."""
        return self._member_field("timing_goal", platform, member_id)

    def locale(self, platform: str, member_id: str) -> str:
        return self._member_field("locale", platform, member_id)

    def _member_field(self, name: str, platform: str, member_id: str) -> str:
        rows = self.store.read(
            f"SELECT {name} FROM members WHERE platform = ? AND member_id = ?",
            (platform, member_id),
        )
        return rows[0][0] if rows else ""

    def set_target(self, platform: str, member_id: str, artist: str, timing: str = "") -> None:
        """Set what this member practises toward: an artist or a timing goal (one at a
        time: setting either clears the other; both "" clear the target)."""
        with self.store.write() as db:
            db.execute(
                "INSERT INTO members (platform, member_id, target, timing_goal, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, member_id) DO UPDATE SET "
                "target = excluded.target, timing_goal = excluded.timing_goal, "
                "updated_at = excluded.updated_at",
                (platform, member_id, artist, timing, self.store.clock()),
            )

    def remember_locale(self, platform: str, member_id: str, locale: str) -> None:
        """Keep the locale a platform reported, for replies where it reports none."""
        if locale and locale != self.locale(platform, member_id):
            self._set_member_field("locale", platform, member_id, locale)

    def _set_member_field(self, name: str, platform: str, member_id: str, value: str) -> None:
        with self.store.write() as db:
            db.execute(
                f"INSERT INTO members (platform, member_id, {name}, updated_at) "
                f"VALUES (?, ?, ?, ?) ON CONFLICT (platform, member_id) "
                f"DO UPDATE SET {name} = excluded.{name}, updated_at = excluded.updated_at",
                (platform, member_id, value, self.store.clock()),
            )

    # ---- leaderboards ----------------------------------------------------------------
    def share(self, member: Member, on: bool) -> bool:
        """Turn sharing on or off in this scope; whether it was on before."""
        key = (member.platform, member.scope, member.member_id)
        with self.store.write() as db:
            was = db.execute(
                "SELECT 1 FROM shares WHERE platform = ? AND scope = ? AND member_id = ?", key
            ).fetchone()
            if on and not was:
                db.execute("INSERT INTO shares VALUES (?, ?, ?, ?)", (*key, self.store.clock()))
            elif not on:
                db.execute(
                    "DELETE FROM shares WHERE platform = ? AND scope = ? AND member_id = ?", key
                )
        return was is not None

    def shares(self, member: Member) -> bool:
        rows = self.store.read(
            "SELECT 1 FROM shares WHERE platform = ? AND scope = ? AND member_id = ?",
            (member.platform, member.scope, member.member_id),
        )
        return bool(rows)

    def leaderboard(self, platform: str, scope: str, artist: str, limit: int = 10) -> list[Entry]:
        """Members of ``scope`` who share, by their best resemblance to ``artist`` over
        their takes here in the last 7 days (unexpired), best first."""
        since = max(self.store.clock() - WEEK_S, self._cutoff())
        takes_by: dict[str, list[Take]] = {}
        rows = self.store.read(
            "SELECT member_id FROM shares WHERE platform = ? AND scope = ?", (platform, scope)
        )
        for (member_id,) in rows:
            takes_by[member_id] = self._select(
                "platform = ? AND scope = ? AND member_id = ? AND created_at >= ?",
                (platform, scope, member_id, since),
            )
        entries = []
        for member_id, takes in takes_by.items():
            scores = [s for s in (t.score_of(artist) for t in takes) if s is not None]
            if scores:
                entries.append(Entry(member_id, takes[-1].display_name, max(scores), len(takes)))
        entries.sort(key=lambda e: (-e.best, e.display_name.lower()))
        return entries[:limit]

    # ---- forgetting ------------------------------------------------------------------
    def forget(self, db: sqlite3.Connection, platform: str, member_id: str) -> Forgotten:
        """Delete this member's takes, settings and shares (inside the caller's transaction)."""
        key = (platform, member_id)
        takes = db.execute("DELETE FROM takes WHERE platform = ? AND member_id = ?", key).rowcount
        target = db.execute(
            "SELECT 1 FROM members WHERE platform = ? AND member_id = ? "
            "AND (target != '' OR timing_goal != '')",
            key,
        ).fetchone()
        db.execute("DELETE FROM members WHERE platform = ? AND member_id = ?", key)
        shares = db.execute("DELETE FROM shares WHERE platform = ? AND member_id = ?", key).rowcount
        return Forgotten({}, takes, target is not None, shares)


def _real(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
