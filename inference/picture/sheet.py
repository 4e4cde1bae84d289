"""The drawing kit of the images: the fixed pixel layout, colours, a :class:`Sheet` (an
RGB canvas with text, rectangles and spectrograms) and the sections both images share
(header, two spectrograms on one axis, paired style bars, score bars).

Drawn with Pillow; matplotlib supplies only its colormap and bundled fonts (never
pyplot). This module does not decide what a picture says: ``image`` composes the
sections and chooses the words.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import librosa
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from i18n import N_, quantity, translator

from ..constants import ANALYSIS_WINDOW_SECONDS, N_MELS, SAMPLE_RATE
from ..style.words import style_label, style_value
from ..types import STYLE_DISPLAY, Match, StyleProfile
from . import fonts
from .mel import fit_frames

# Layout, in output pixels. Spectrograms get 4 px per mel band and one column per pixel.
WIDTH = 1080
MARGIN = 40
SPEC_X0, SPEC_X1 = 110, WIDTH - MARGIN
SPEC_ROW_PX = 4
SPEC_H = N_MELS * SPEC_ROW_PX
SPEC_BLOCK_H = SPEC_H + 60  # title line + image
SPECS_H = 2 * SPEC_BLOCK_H + 40  # two spectrograms and the shared time axis
HEADER_H = 215  # intro, headline, and one line saying what the score means
STYLE_ROW_H = 72
STYLES_H = 90 + len(STYLE_DISPLAY) * STYLE_ROW_H
SCORE_ROW_H = 62
GAP = 50  # between sections
BAR_X0, BAR_X1, VALUE_X = 420, 770, 790  # style bars and their printed values
SCORE_X0, SCORE_X1 = 520, 940  # score bars; names sit to their left

BG, FG, MUTED, TRACK = "#0d1117", "#f0f6fc", "#9da7b3", "#262c36"
FIRST_COLOUR, SECOND_COLOUR, OTHER_COLOUR = "#39d0d8", "#ffa657", "#6e7d91"
CMAP = "magma"
FREQ_TICKS_HZ = (500.0, 1000.0, 2000.0, 4000.0)
TIME_TICK_SECONDS = 5


@functools.lru_cache(maxsize=1)
def _colour_lut() -> np.ndarray:
    """(256, 3) uint8 RGB of CMAP, indexed by mel image value."""
    rgba = matplotlib.colormaps[CMAP](np.arange(256))
    return np.rint(rgba[:, :3] * 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _freq_tick_rows() -> tuple[float, ...]:
    """Fractional mel-band index (0 = lowest band centre) of each FREQ_TICKS_HZ value."""
    centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=0.0, fmax=SAMPLE_RATE / 2)
    return tuple(float(np.interp(f, centres[1:-1], np.arange(N_MELS))) for f in FREQ_TICKS_HZ)


def display_name(text: str) -> str:
    """A name for display: one line, characters no font here can draw (emoji) dropped;
    "" when nothing drawable is left."""
    text = " ".join(str(text)[:200].split())
    have = fonts.glyphs(False) | fonts.glyphs(True)
    return " ".join("".join(c for c in text if ord(c) in have).split())


def fit_text(text: str, font: ImageFont.FreeTypeFont, max_px: float, keep: str = "") -> str:
    """``text + keep`` cut with an ellipsis (inside ``text``) to at most ``max_px`` wide."""
    if font.getlength(text + keep) <= max_px:
        return text + keep
    while text and font.getlength(text + "…" + keep) > max_px:
        text = text[:-1]
    return text.rstrip() + "…" + keep


def score_text(score: float) -> str:
    return "n/a" if score != score else f"{float(np.clip(score, 0.0, 100.0)):.0f}/100"


class Sheet:
    """An RGB canvas with the few drawing operations the layouts need (pixels, y down)."""

    def __init__(self, height: int, language: str = "en") -> None:
        self.img = Image.new("RGB", (WIDTH, height), BG)
        self.draw = ImageDraw.Draw(self.img)
        self.language = language
        self.cjk = language != "en"  # the Hangul font draws Latin letters too
        self._ = translator(language).gettext

    def font(self, size: int, bold: bool, text: str) -> ImageFont.FreeTypeFont:
        """The font for ``text``: the language's, or the Hangul font for a name that
        needs it in an English image."""
        return fonts.font(size, bold, self.cjk or fonts.needs_cjk(text))

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        size: int,
        colour: str = FG,
        *,
        bold: bool = False,
        anchor: str = "lm",
        max_px: float | None = None,
        keep: str = "",
    ) -> None:
        """Text anchored at ``xy`` (default: left end, vertical middle).

        With ``max_px``, ``text`` is cut to fit and ``keep`` (a suffix) is always shown.
        """
        font = self.font(size, bold, text + keep)
        cjk = font.path != fonts.font(size, bold, False).path
        text, keep = fonts.drawable(text, cjk), fonts.drawable(keep, cjk)
        text = fit_text(text, font, max_px, keep) if max_px is not None else text + keep
        self.draw.text(xy, text, fill=colour, font=font, anchor=anchor)

    def rect(self, x: float, y: float, w: float, h: float, colour: str) -> None:
        self.draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)

    def spectrogram(self, mel: np.ndarray, y: int) -> None:
        """``mel`` across the spectrogram columns, top edge at ``y``, low bands at the bottom."""
        pooled = fit_frames(mel, SPEC_X1 - SPEC_X0)
        rgb = np.repeat(_colour_lut()[pooled[::-1]], SPEC_ROW_PX, axis=0)
        self.img.paste(Image.fromarray(rgb), (SPEC_X0, y))

    def png(self) -> bytes:
        # 256 colours hold the colormap and the flat UI colours well, and a paletted PNG
        # is ~3x smaller and faster to encode than RGB.
        small = self.img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", compress_level=3)
        return out.getvalue()


def _draw_spectrogram(s: Sheet, y: int, mel: np.ndarray | None, title: str, colour: str) -> None:
    """Title line, then the image (or a "no reference" placeholder) with frequency ticks."""
    s.text((SPEC_X0, y + 22), title, 30, colour, bold=True, max_px=SPEC_X1 - SPEC_X0)
    top = y + 50
    if mel is None:
        s.rect(SPEC_X0, top, SPEC_X1 - SPEC_X0, SPEC_H, TRACK)
        centre = ((SPEC_X0 + SPEC_X1) / 2, top + SPEC_H / 2)
        s.text(centre, s._("No reference recording"), 30, MUTED, anchor="mm")
    else:
        s.spectrogram(mel, top)
    for hz, row in zip(FREQ_TICKS_HZ, _freq_tick_rows(), strict=True):
        py = top + SPEC_H - (row + 0.5) * SPEC_ROW_PX
        s.draw.line((SPEC_X0 - 8, py, SPEC_X0 - 1, py), fill=MUTED, width=2)
        s.text((SPEC_X0 - 12, py), f"{hz / 1000:g}k", 20, MUTED, anchor="rm")
    s.text((SPEC_X0 - 12, top + 2), "Hz", 20, MUTED, anchor="rt")


def _draw_time_axis(s: Sheet, y: int) -> None:
    """Second ticks 0..30 under a spectrogram whose bottom edge is at ``y``."""
    seconds = int(ANALYSIS_WINDOW_SECONDS)
    for sec in range(0, seconds + 1, TIME_TICK_SECONDS):
        px = SPEC_X0 + (SPEC_X1 - SPEC_X0 - 1) * sec / ANALYSIS_WINDOW_SECONDS
        s.draw.line((px, y, px, y + 8), fill=MUTED, width=2)
        last = sec == seconds
        label = quantity(sec, N_("{value} s"), s.language) if last else str(sec)
        anchor = "rt" if last else "mt"
        s.text((px + (2 if last else 0), y + 12), label, 22, MUTED, anchor=anchor)


def draw_spectrograms(
    s: Sheet, y: int, mels: Sequence[np.ndarray | None], titles: Sequence[str]
) -> int:
    """Two spectrograms stacked on one time axis and colour scale; returns the y below."""
    colours = (FIRST_COLOUR, SECOND_COLOUR)
    for i, (mel, title, colour) in enumerate(zip(mels, titles, colours, strict=True)):
        _draw_spectrogram(s, y + i * SPEC_BLOCK_H, mel, title, colour)
    _draw_time_axis(s, y + 2 * SPEC_BLOCK_H)
    return y + SPECS_H


def _bar_fraction(name: str, value: float) -> float | None:
    """Where ``value`` sits in the feature's display range, 0..1; None for nan."""
    if value != value:  # nan
        return None
    lo, hi = STYLE_DISPLAY[name][2], STYLE_DISPLAY[name][3]
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def draw_styles(
    s: Sheet, y: int, styles: Sequence[StyleProfile | None], labels: Sequence[str]
) -> int:
    """Paired bars per STYLE_DISPLAY feature, first profile on top; returns the y below.

    A full bar is the top of the feature's display range; values are printed beside it.
    A missing profile (None) leaves its bars empty and says so in the legend.
    """
    s.text((MARGIN, y + 24), s._("Style"), 38, bold=True)
    colours = (FIRST_COLOUR, SECOND_COLOUR)
    for i, (label, style) in enumerate(zip(labels, styles, strict=True)):
        s.rect(BAR_X0, y + 4 + i * 32, 20, 20, colours[i])
        tag = "" if style is not None else " " + s._("(no profile)")
        room = WIDTH - BAR_X0 - 70
        s.text((BAR_X0 + 30, y + 14 + i * 32), label, 24, colours[i], max_px=room, keep=tag)
    y += 90
    for name in STYLE_DISPLAY:
        title = style_label(name, s.language)
        s.text((MARGIN, y + 27), title, 28, max_px=BAR_X0 - MARGIN - 10)
        for i, style in enumerate(styles):
            by = y + 2 + i * 28
            value = getattr(style, name) if style is not None else float("nan")
            frac = _bar_fraction(name, value)
            s.rect(BAR_X0, by, BAR_X1 - BAR_X0, 24, TRACK)
            if frac is not None:
                s.rect(BAR_X0, by, max(frac * (BAR_X1 - BAR_X0), 4), 24, colours[i])
            colour = colours[i] if frac is not None else MUTED
            s.text((VALUE_X, by + 12), style_value(name, value, s.language), 24, colour)
        y += STYLE_ROW_H
    return y


def draw_scores(s: Sheet, y: int, matches: Sequence[Match], target: str = "") -> int:
    """One 0..100 bar per match, best first, the top one highlighted (and the target, when
    it is among them, tagged); returns the y below."""
    s.text((MARGIN, y + 24), s._("Resemblance (0-100)"), 38, bold=True)
    y += 70
    if not matches:
        s.text((MARGIN, y + 20), s._("No catalogue artists to compare with"), 28, MUTED)
        return y + SCORE_ROW_H
    for rank, m in enumerate(matches):
        colour = SECOND_COLOUR if rank == 0 else OTHER_COLOUR
        tag = " " + s._("(target)") if m.artist == target else ""
        tag += " " + s._("(demo)") if m.demo else ""
        name = f"{rank + 1}. {display_name(m.artist) or '?'}"
        room = SCORE_X0 - MARGIN - 16
        s.text((MARGIN, y + 20), name, 28, FG if rank == 0 else MUTED, max_px=room, keep=tag)
        score = float(np.clip(np.nan_to_num(m.score), 0.0, 100.0))
        s.rect(SCORE_X0, y + 4, SCORE_X1 - SCORE_X0, 32, TRACK)
        s.rect(SCORE_X0, y + 4, max(score / 100 * (SCORE_X1 - SCORE_X0), 4), 32, colour)
        s.text((WIDTH - MARGIN, y + 20), f"{score:.0f}", 30, colour, bold=rank == 0, anchor="rm")
        y += SCORE_ROW_H
    return y


def draw_header(
    s: Sheet, intro: tuple[str, str], headline: tuple[str, str], caption: str = ""
) -> None:
    """A muted intro line, a large headline (shrunk, then cut, to fit the width) and a
    caption saying what the score means.

    intro and headline are (text, suffix); the text is cut when too long, the suffix is
    always shown.
    """
    room = WIDTH - 2 * MARGIN
    s.text((MARGIN, 50), intro[0], 36, MUTED, max_px=room, keep=intro[1])
    full = headline[0] + headline[1]
    size = next((n for n in (60, 52, 44) if s.font(n, True, full).getlength(full) <= room), 40)
    s.text(
        (MARGIN, 116), headline[0], size, SECOND_COLOUR, bold=True, max_px=room, keep=headline[1]
    )
    if caption:
        s.text((MARGIN, 180), caption, 28, FG, max_px=room)
