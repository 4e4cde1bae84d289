"""The profile database's schema, version by version, and the upgrade from any older one.

``PRAGMA user_version`` holds the version. :func:`migrate` brings a database of any older
version up to :data:`SCHEMA_VERSION` in place, in one transaction, keeping every row; a
fresh database gets every step in order (so the path an old database takes is the one
every new database took). A database from a newer version is refused, not guessed at.

Version 1: ``profiles`` (the latest analyses, for /compare).
Version 2: the practice history: ``takes`` (one small row per analysed note: no audio,
no embedding), ``catalogs`` (the artist list a take's scores are aligned with),
``members`` (target and locale per member) and ``shares`` (leaderboard opt-ins).
Version 3: per take, the reach (the practice score that has no floor) toward the artists
the note was scored against, and its timing (grid kind, offset, tightness, on-grid
share); per member, a timing goal (a target that is not an artist). Columns are added
with defaults, so every earlier row stays and reads as "not measured".
Version 4: cypher rounds: ``rounds`` (one row per round: platform, scope, the chat or
channel, start and end; nothing about members) and, per take, the round it was a verse
of (NULL: a plain note, as every earlier take reads).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_V1 = """
CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    scope TEXT NOT NULL,
    member_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    handle TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    encoder TEXT NOT NULL,
    top_artist TEXT NOT NULL,
    embedding BLOB NOT NULL,   -- float32 little-endian, L2-normalised
    style TEXT NOT NULL,       -- JSON list of the StyleProfile values (null: not measured)
    mel BLOB NOT NULL,         -- zlib-compressed uint8 (64, mel_frames)
    mel_frames INTEGER NOT NULL
);
CREATE INDEX profiles_member ON profiles (platform, member_id);
CREATE INDEX profiles_scope ON profiles (platform, scope, member_id, created_at);
CREATE INDEX profiles_created ON profiles (created_at)
"""

_V2 = """
CREATE TABLE catalogs (
    id INTEGER PRIMARY KEY,
    artists TEXT NOT NULL UNIQUE   -- JSON list of artist names, in the catalogue's order
);
CREATE TABLE takes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    scope TEXT NOT NULL,
    member_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at REAL NOT NULL,
    target TEXT NOT NULL DEFAULT '',  -- the artist practised toward ('' none)
    target_score REAL,                -- resemblance to it, 0..100
    target_rank INTEGER,              -- its place among the catalogue's artists, 1 = closest
    top_artist TEXT NOT NULL,
    top_score REAL NOT NULL,
    style TEXT NOT NULL,              -- JSON list of the 8 StyleProfile values (null: n/a)
    catalog_id INTEGER NOT NULL REFERENCES catalogs (id),
    scores BLOB NOT NULL              -- uint8 resemblance 0..100 to each catalogue artist
);
CREATE INDEX takes_member ON takes (platform, member_id, created_at);
CREATE INDEX takes_scope ON takes (platform, scope, created_at);
CREATE INDEX takes_created ON takes (created_at);
CREATE TABLE members (
    platform TEXT NOT NULL,
    member_id TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',  -- the artist this member practises toward
    locale TEXT NOT NULL DEFAULT '',  -- last locale their platform reported ('' unknown)
    updated_at REAL NOT NULL,
    PRIMARY KEY (platform, member_id)
);
CREATE TABLE shares (
    platform TEXT NOT NULL,
    scope TEXT NOT NULL,
    member_id TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (platform, scope, member_id)
)
"""

_V3 = """
-- comments above each statement (ADD COLUMN copies a trailing one into the table's SQL)
-- and never a semicolon in one (the steps are split on them)
-- uint8 reach 0..100 toward each catalogue artist, 255 not scored (NULL: kept before v3)
ALTER TABLE takes ADD COLUMN reaches BLOB;
-- the timing's grid: 'beat' or 'own pulse', '' when not timed
ALTER TABLE takes ADD COLUMN grid TEXT NOT NULL DEFAULT '';
-- median deviation from the 16th grid in ms, positive = behind the beat
ALTER TABLE takes ADD COLUMN offset_ms REAL;
-- spread of the deviations after each bar's own offset, ms
ALTER TABLE takes ADD COLUMN tightness_ms REAL;
-- share of syllables within 30 ms of the grid after the offset, 0..1
ALTER TABLE takes ADD COLUMN on_grid_share REAL;
-- a target that is not an artist, as set: 'tight', 'tight 20', 'pocket 60'
ALTER TABLE members ADD COLUMN timing_goal TEXT NOT NULL DEFAULT ''
"""

_V4 = """
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    scope TEXT NOT NULL,      -- the guild or chat
    room TEXT NOT NULL,       -- the chat or channel the round ran in
    started_at REAL NOT NULL,
    ended_at REAL             -- NULL while it runs (or when its bot stopped first)
);
-- the cypher round this take was a verse of (rounds.id), NULL for a plain note
ALTER TABLE takes ADD COLUMN round_id INTEGER;
CREATE INDEX takes_round ON takes (round_id)
"""

STEPS = (_V1, _V2, _V3, _V4)  # step i brings a database from version i to i + 1
SCHEMA_VERSION = len(STEPS)


class NewerSchema(Exception):
    """The database was written by a newer Rap Simulator."""


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring ``db`` (autocommit mode) to SCHEMA_VERSION; the version it had before.

    The version is read inside an immediate transaction, so two processes opening one
    new or old database at once upgrade it once: the second waits, then finds it done.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewerSchema(
                f"{path} was written by a newer Rap Simulator (schema {version}); "
                "upgrade, or point RAPSIM_DATA_DIR elsewhere"
            )
        for step in STEPS[version:]:
            for statement in step.split(";"):
                db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return version
