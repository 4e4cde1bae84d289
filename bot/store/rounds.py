"""Cypher rounds in the store: one row per round, and the round each take was sent in.

A round (``/cypher start`` … ``/cypher stop`` in one chat or channel) is a row of
``rounds``: platform, scope, the room (chat or channel id) and its start and end. It
holds nothing about members: a member is in a round through their take rows, which
carry its id (``takes.round_id``; NULL for a note outside any round). So ``/forget``,
which deletes a member's takes, takes them out of every round; a round left with no take
is deleted with them (and by the purge once it is older than the history period).

The service marks the takes of a verse with :func:`in_round` around its history write:
the round id travels in a context variable (``bot.store.history.ROUND``), so the
practice desk that writes the row needs no parameter for it (``asyncio.to_thread``
carries the context into the thread). Calls are blocking and short, like the rest of
the store.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .history import NO_REACH, ROUND, Database


@contextmanager
def in_round(round_id: int | None) -> Iterator[None]:
    """Takes recorded inside the block belong to round ``round_id`` (None: to none)."""
    token = ROUND.set(round_id)
    try:
        yield
    finally:
        ROUND.reset(token)


@dataclass(frozen=True)
class RoundTake:
    """One verse of a round as its take row holds it (what a round summary needs)."""

    member_id: str
    display_name: str
    created_at: float
    grid: str  # "beat", "own pulse"; "" when the timing could not be placed
    tightness_ms: float  # nan: not timed
    target: str  # the artist the member practised toward ("" none)
    target_score: float | None  # resemblance to it, 0..100
    target_reach: int | None  # reach toward it, 0..100 (None: not measured)


class Rounds:
    def __init__(self, store: Database, keep_s: float) -> None:
        self.store = store
        self.keep_s = keep_s

    def open(self, platform: str, scope: str, room: str) -> int:
        """A new round in ``room`` (a chat or channel of ``scope``); its id."""
        with self.store.write() as db:
            cur = db.execute(
                "INSERT INTO rounds (platform, scope, room, started_at) VALUES (?, ?, ?, ?)",
                (platform, scope, room, self.store.clock()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def close(self, round_id: int) -> bool:
        """End the round; a round nobody sent a verse in is deleted. Whether it is kept."""
        with self.store.write() as db:
            db.execute(
                "UPDATE rounds SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (self.store.clock(), round_id),
            )
            gone = db.execute(
                "DELETE FROM rounds WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM takes WHERE round_id = rounds.id)",
                (round_id,),
            ).rowcount
        return not gone

    def takes(self, round_id: int) -> list[RoundTake]:
        """The round's verses that are still kept, oldest first."""
        rows = self.store.read(
            "SELECT t.member_id, t.display_name, t.created_at, t.grid, t.tightness_ms, "
            "t.target, t.target_score, t.reaches, c.artists FROM takes t "
            "JOIN catalogs c ON c.id = t.catalog_id WHERE t.round_id = ? "
            "ORDER BY t.created_at, t.id",
            (round_id,),
        )
        out = []
        for member_id, name, created, grid, tight, target, score, reaches, artists in rows:
            out.append(
                RoundTake(
                    member_id,
                    name,
                    created,
                    grid,
                    math.nan if tight is None else float(tight),
                    target,
                    score,
                    _reach(target, bytes(reaches or b""), json.loads(artists)),
                )
            )
        return out

    def count(self, platform: str | None = None) -> int:
        where, args = (" WHERE platform = ?", (platform,)) if platform else ("", ())
        return self.store.read(f"SELECT COUNT(*) FROM rounds{where}", args)[0][0]

    def drop_empty(self, db: sqlite3.Connection) -> int:
        """Delete ended rounds no take belongs to any more (inside the caller's
        transaction: after /forget), and any round past the history period with none."""
        return db.execute(
            "DELETE FROM rounds WHERE (ended_at IS NOT NULL OR started_at < ?) AND NOT EXISTS "
            "(SELECT 1 FROM takes WHERE round_id = rounds.id)",
            (self.store.clock() - self.keep_s,),
        ).rowcount


def _reach(target: str, reaches: bytes, artists: list[str]) -> int | None:
    if not target or target not in artists:
        return None
    i = artists.index(target)
    value = reaches[i] if i < len(reaches) else NO_REACH
    return None if value == NO_REACH else value
