"""Which catalogue a worker serves, as an id the bot can compute without ``inference``.

A catalogue's ``manifest.json`` holds its encoder, its artists and the sha256 of every
other file, so the digest of the manifest names the whole catalogue. The bot reads only
this file (and the artist list in it); workers hold the whole folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..jobs import ArtistEntry, CatalogInfo

MANIFEST = "manifest.json"


class CatalogIdError(Exception):
    """The folder holds no readable catalogue manifest."""


def catalog_id(folder: str | os.PathLike[str] | None) -> str:
    """16 hex digits of the manifest's sha256; "" for a catalogue not saved to disk."""
    if folder is None:
        return ""
    try:
        blob = (Path(folder) / MANIFEST).read_bytes()
    except OSError as e:
        raise CatalogIdError(f"no catalogue manifest in {folder} ({e.strerror})") from None
    return hashlib.sha256(blob).hexdigest()[:16]


def catalog_info(folder: str | os.PathLike[str]) -> CatalogInfo:
    """The artists and encoder a catalogue's manifest lists (what /artists shows)."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        artists = tuple(
            ArtistEntry(a["name"], int(a["clips"]), float(a["seconds"]), bool(a.get("demo")))
            for a in manifest["artists"]
        )
        encoder = f"{manifest['encoder']['name']} {manifest['encoder']['version']}"
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CatalogIdError(f"cannot read the catalogue manifest in {folder} ({e})") from None
    return CatalogInfo(artists=artists, encoder=encoder)
