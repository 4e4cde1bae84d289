"""Fonts for the Pillow-drawn images, and which characters each can draw.

Latin text is drawn with the DejaVu Sans that matplotlib bundles (always there); Korean
text, and any name with letters DejaVu lacks, with the Hangul font ``i18n.fonts`` finds
(Noto Sans CJK KR from Debian's ``fonts-noto-cjk``). :func:`drawable` keeps only the
characters the chosen font has, so an image never shows a missing-glyph box; without a
Hangul font, :func:`image_language` turns a Korean image into an English one (and the
log says why once).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import matplotlib
from matplotlib.ft2font import FT2Font
from PIL import ImageFont

from i18n import DEFAULT
from i18n.fonts import MISSING_HINT, hangul_font

log = logging.getLogger(__name__)


def _dejavu(bold: bool) -> str:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path(), "fonts", "ttf", name))


def font_file(bold: bool, cjk: bool) -> tuple[str, int]:
    """(path, face index) of the regular or bold font; CJK falls back to DejaVu."""
    found = hangul_font(bold) if cjk else None
    return (found.path, found.index) if found else (_dejavu(bold), 0)


@functools.cache
def font(size: int, bold: bool = False, cjk: bool = False) -> ImageFont.FreeTypeFont:
    path, index = font_file(bold, cjk)
    return ImageFont.truetype(path, size, index=index)


@functools.cache
def glyphs(cjk: bool) -> frozenset[int]:
    """Code points both weights of a font can draw (empty: no Hangul font installed)."""
    if cjk and hangul_font(False) is None:
        return frozenset()
    # FT2Font opens a collection's first face; the faces of Noto Sans CJK share one
    # character set (only the preferred glyph shapes differ), so its charmap is the one.
    maps = [frozenset(FT2Font(font_file(bold, cjk)[0]).get_charmap()) for bold in (False, True)]
    return maps[0] & maps[1]


def needs_cjk(text: str) -> bool:
    """Whether ``text`` has characters DejaVu lacks and the Hangul font has."""
    latin, cjk = glyphs(False), glyphs(True)
    return any(ord(c) not in latin and ord(c) in cjk for c in text)


def drawable(text: str, cjk: bool) -> str:
    """``text`` without the characters the chosen font cannot draw (emoji, say)."""
    have = glyphs(cjk) or glyphs(False)
    return "".join(c for c in text if ord(c) in have)


def image_language(language: str) -> str:
    """``language``, or English when it needs a font that is not installed."""
    if language == DEFAULT or glyphs(True):
        return language
    _warn_once(language)
    return DEFAULT


@functools.cache
def _warn_once(language: str) -> None:
    log.warning("images in %r need a Hangul font (%s): drawing them in English",
                language, MISSING_HINT)  # fmt: skip
