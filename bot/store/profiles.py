"""Member profiles in SQLite: what the bot keeps of each analysis, and nothing more.

Per platform, scope (guild or chat) and member: the latest few analyses, each as an
embedding, a style profile, a small spectrogram (for /compare images), the top artist and
the time. Raw audio is never stored. Rows older than the retention period are deleted;
``forget`` deletes every row of a member in every scope. The practice history (one small
row per take, targets, leaderboard opt-ins) lives in the same file and is reached through
``store.history`` (:class:`bot.history.History`), the cypher rounds through ``store.rounds``
(:class:`bot.store.rounds.Rounds`). The schema and its upgrades are in
:mod:`bot.schema`: an older database is upgraded in place when the store opens.

Calls are blocking and short; the service runs them in a thread (``asyncio.to_thread``),
so one connection is shared under a lock. Writes take SQLite's write lock at once
(``BEGIN IMMEDIATE``) and wait up to ``BUSY_TIMEOUT_S`` for another process's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..jobs import Voice
from ..member import Member
from .history import Forgotten, History
from .rounds import Rounds
from .schema import SCHEMA_VERSION, NewerSchema, migrate

log = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "Profile", "ProfileStore", "StoreError"]

BUSY_TIMEOUT_S = 10.0  # another process (a second bot on the same data folder) is writing

MEL_BANDS = 64


class StoreError(Exception):
    """The profile database cannot be used (newer schema, not a database)."""


@dataclass(frozen=True)
class Profile:
    member: Member
    voice: Voice
    top_artist: str
    created_at: float


class ProfileStore:
    def __init__(
        self,
        path: str | Path,
        *,
        retention_days: float = 30.0,
        per_member: int = 5,
        history_days: float = 90.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.retention_s = retention_days * 86400.0
        self.per_member = per_member
        self.clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.history = History(self, history_days * 86400.0)
        self.rounds = Rounds(self, history_days * 86400.0)

    # ---- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            before = migrate(db, self.path)
        except NewerSchema as e:
            db.close()
            raise StoreError(str(e)) from None
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"{self.path} is not a usable profile database: {e}") from None
        if 0 < before < SCHEMA_VERSION:
            log.info("upgraded %s from schema %d to %d", self.path, before, SCHEMA_VERSION)
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the profile store is not open")
        return self._db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (the connection, under the lock); rolled back on error."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        """All rows of one query, under the lock."""
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    # ---- writes --------------------------------------------------------------------------
    def save(self, member: Member, voice: Voice, top_artist: str) -> None:
        """Keep this analysis; the member's oldest rows past ``per_member`` are dropped."""
        mel = np.ascontiguousarray(voice.mel, dtype=np.uint8)
        if mel.ndim != 2 or mel.shape[0] != MEL_BANDS:
            raise ValueError(f"mel must be ({MEL_BANDS}, frames), got {mel.shape}")
        row = (
            member.platform,
            member.scope,
            member.member_id,
            member.display_name,
            member.handle.lower(),
            self.clock(),
            voice.encoder,
            top_artist,
            np.asarray(voice.embedding, dtype="<f4").tobytes(),
            json.dumps([None if v != v else float(v) for v in voice.style]),
            zlib.compress(mel.tobytes(), 6),
            mel.shape[1],
        )
        key = (member.platform, member.scope, member.member_id)
        with self.write() as db:
            db.execute(
                "INSERT INTO profiles (platform, scope, member_id, display_name, handle, "
                "created_at, encoder, top_artist, embedding, style, mel, mel_frames) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            db.execute(
                "DELETE FROM profiles WHERE platform = ? AND scope = ? AND member_id = ? AND id "
                "NOT IN (SELECT id FROM profiles WHERE platform = ? AND scope = ? AND "
                "member_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)",
                (*key, *key, self.per_member),
            )

    def forget(self, platform: str, member_id: str) -> Forgotten:
        """Delete everything kept about this member on this platform, in every scope:
        profiles, practice takes, target, locale and leaderboard sharing."""
        with self.write() as db:
            counts = dict(
                db.execute(
                    "SELECT scope, COUNT(*) FROM profiles WHERE platform = ? AND member_id = ? "
                    "GROUP BY scope",
                    (platform, member_id),
                ).fetchall()
            )
            db.execute(
                "DELETE FROM profiles WHERE platform = ? AND member_id = ?", (platform, member_id)
            )
            history = self.history.forget(db, platform, member_id)
            self.rounds.drop_empty(db)  # a round only they sent verses in goes with them
        return replace(history, profiles=counts)

    def purge_expired(self) -> int:
        """Delete profiles older than the retention period, and takes (and the rounds
        left without any) older than the history's; how many rows in all."""
        with self.write() as db:
            cur = db.execute(
                "DELETE FROM profiles WHERE created_at < ?", (self.clock() - self.retention_s,)
            )
            return cur.rowcount + self.history.purge(db) + self.rounds.drop_empty(db)

    # ---- reads ---------------------------------------------------------------------------
    def latest(self, member: Member) -> Profile | None:
        """The member's newest unexpired analysis in this scope."""
        rows = self._select(
            "platform = ? AND scope = ? AND member_id = ?",
            (member.platform, member.scope, member.member_id),
        )
        return rows[0] if rows else None

    def find_member(self, platform: str, scope: str, handle: str) -> Member | None:
        """The member of this scope whose stored handle is ``handle`` (no "@", any case)."""
        rows = self._select(
            "platform = ? AND scope = ? AND handle = ?",
            (platform, scope, handle.lstrip("@").lower()),
        )
        return rows[0].member if rows and handle.strip("@") else None

    def count(self, platform: str | None = None, member_id: str | None = None) -> int:
        where, args = _filters(platform, member_id)
        with self._lock:
            return self._conn().execute(f"SELECT COUNT(*) FROM profiles{where}", args).fetchone()[0]

    def _select(self, where: str, args: tuple) -> list[Profile]:
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT platform, scope, member_id, display_name, handle, created_at, "
                    "encoder, top_artist, embedding, style, mel, mel_frames FROM profiles "
                    f"WHERE {where} AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT 1",
                    (*args, self.clock() - self.retention_s),
                )
                .fetchall()
            )
        out = []
        for platform, scope, mid, name, handle, created, encoder, top, emb, style, mel, n in rows:
            voice = Voice(
                embedding=np.frombuffer(emb, dtype="<f4").astype(np.float32),
                style=tuple(float("nan") if v is None else float(v) for v in json.loads(style)),
                mel=np.frombuffer(zlib.decompress(mel), dtype=np.uint8).reshape(MEL_BANDS, n),
                encoder=encoder,
            )
            out.append(Profile(Member(platform, scope, mid, name, handle), voice, top, created))
        return out


def _filters(platform: str | None, member_id: str | None) -> tuple[str, tuple]:
    parts, args = [], []
    if platform is not None:
        parts.append("platform = ?")
        args.append(platform)
    if member_id is not None:
        parts.append("member_id = ?")
        args.append(member_id)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(args)
