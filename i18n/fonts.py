"""Where a font that can draw Hangul is: images in Korean need one.

Debian's ``fonts-noto-cjk`` (installed by ``scripts/setup.sh``) puts Noto Sans CJK in
``/usr/share/fonts/opentype/noto`` as font collections holding one face per region;
the Korean face is picked from them. Elsewhere, fontconfig's ``fc-list :lang=ko`` is
asked. ``RAPSIM_FONT`` (a .ttf/.otf/.ttc path) overrides both. When nothing is found,
:func:`hangul_font` returns None and says so once in the log; the image code then draws
in English (a clear fallback, never boxes in place of letters).

This module finds fonts only: it loads none and draws nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NOTO_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk")
# Noto Sans CJK collections hold the faces in this order: JP, KR, SC, TC, HK.
KOREAN_FACE = 1
MISSING_HINT = "install fonts-noto-cjk (apt-get install fonts-noto-cjk) or set RAPSIM_FONT"


@dataclass(frozen=True)
class FontFile:
    """A font file and, for a collection (.ttc), the index of the face to use."""

    path: str
    index: int = 0


@functools.cache
def hangul_font(bold: bool = False) -> FontFile | None:
    """A regular (or bold) font with Hangul and Latin letters, or None (logged once)."""
    override = os.environ.get("RAPSIM_FONT", "").strip()
    if override:
        if Path(override).is_file():
            return FontFile(override, 0)
        log.error("RAPSIM_FONT=%s is not a file", override)
    weight = "Bold" if bold else "Regular"
    for folder in NOTO_DIRS:
        for name in (f"NotoSansCJK-{weight}.ttc", f"NotoSansCJKkr-{weight}.otf"):
            path = Path(folder, name)
            if path.is_file():
                return FontFile(str(path), KOREAN_FACE if path.suffix == ".ttc" else 0)
    found = _fontconfig(weight)
    if found is None:
        log.warning("no font with Hangul found (%s): Korean images are drawn in English",
                    MISSING_HINT)  # fmt: skip
    return found


def _fontconfig(weight: str) -> FontFile | None:
    """The first font fontconfig lists for Korean, preferring the wanted weight."""
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=ko", "file", "index", "style"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    fonts = []
    for line in sorted(out.splitlines()):
        path, _, rest = line.partition(":")
        index = next((p.split("=", 1)[1] for p in rest.split(":") if p.startswith("index=")), "0")
        fonts.append((weight.lower() not in rest.lower(), FontFile(path.strip(), int(index))))
    return min(fonts, key=lambda f: f[0])[1] if fonts else None
