"""The /progress chart: resemblance to the target over a member's takes, and the style
features furthest from the target, as one PNG that reads on a phone.

Discord and Telegram show an image about 400 px wide, so the chart is drawn 800 px wide
(two pixels per shown pixel) with 9-12 pt text at 200 dpi: about 12-16 px on screen.
matplotlib (Agg, the object API, never pyplot) is imported on the first chart only, so
a bot that never draws one does not pay for it; drawing is serialised by a lock (the
service calls it from a thread). Text is in the member's language, with the Hangul font
of ``i18n.fonts`` for Korean; without that font a Korean chart is drawn in English.

It draws what :class:`bot.practice.Progress` holds; it decides nothing about it.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import threading
from datetime import datetime
from typing import Any

from i18n import N_, month_day, quantity, say, translator
from i18n.fonts import MISSING_HINT, hangul_font

from .progress import Progress, Track

log = logging.getLogger(__name__)

WIDTH_IN, DPI = 4.0, 200  # 800 px wide
SCORE_IN, TRACK_IN, MARGINS_IN = 2.0, 1.15, 0.9  # heights of the panels and margins
BG, FG, MUTED, GRID = "#0d1117", "#f0f6fc", "#9da7b3", "#262c36"
MEMBER, TARGET, BEST = "#39d0d8", "#ffa657", "#f2cc60"
MAX_DATE_TICKS = 4
_lock = threading.Lock()


def render_progress(chart: Progress, language: str = "en") -> bytes:
    """PNG bytes of ``chart`` (at least one take)."""
    language = _chart_language(language)
    with _lock:
        sheet = _sheet(len(chart.tracks), language)
        with _style(language):
            sheet.fill(chart, language)
            sheet.canvas.draw()
            rgba = sheet.canvas.buffer_rgba()
    return _small_png(rgba)


@functools.cache
def _sheet(tracks: int, language: str) -> _Sheet:
    """One figure per layout, made once and refilled for every chart: making the axes
    and their ticks is most of matplotlib's time, drawing lines is little."""
    with _style(language):
        return _Sheet(tracks)


class _Sheet:
    """A figure with a score panel and ``tracks`` feature panels, and the artists that
    each chart refills (lines, markers, labels)."""

    def __init__(self, tracks: int) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        height = SCORE_IN + tracks * TRACK_IN + MARGINS_IN
        self.fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor=BG)
        self.canvas = FigureCanvasAgg(self.fig)
        grid = self.fig.add_gridspec(
            tracks + 1, 1, height_ratios=[SCORE_IN] + [TRACK_IN] * tracks,
            left=0.15, right=0.96, top=1 - 0.42 / height, bottom=0.42 / height, hspace=0.55,
        )  # fmt: skip
        self.axes = [self.fig.add_subplot(grid[i, 0]) for i in range(tracks + 1)]
        for ax in self.axes:
            _frame(ax)
        top = self.axes[0]
        top.set_ylim(0, 100)
        top.set_yticks([0, 50, 100])
        self.title = _title(top, 11, bold=True)
        (self.scores,) = top.plot([], [], color=TARGET, marker="o", markersize=3.5, linewidth=1.6)
        (self.best,) = top.plot([], [], marker="*", markersize=13, color=BEST,
                                markeredgecolor=BG, linestyle="none", zorder=5)  # fmt: skip
        self.best_label = top.annotate("", (0, 0), xytext=(0, 9), textcoords="offset points",
                                       ha="center", color=BEST, fontsize=9)  # fmt: skip
        self.tracks = []
        for ax in self.axes[1:]:
            ax.yaxis.set_major_locator(MaxNLocator(3))
            (mine,) = ax.plot([], [], color=MEMBER, marker="o", markersize=2.5, linewidth=1.3)
            line = ax.axhline(0, color=TARGET, linestyle="--", linewidth=1.2)
            label = ax.annotate("", xy=(1, 0), xycoords=("axes fraction", "data"),
                                xytext=(-2, 3), textcoords="offset points", ha="right",
                                va="bottom", color=TARGET, fontsize=8)  # fmt: skip
            self.tracks.append((_title(ax, 9.5), mine, line, label))
        self.xlabel = self.axes[-1].set_xlabel("", color=MUTED, fontsize=8)

    def fill(self, chart: Progress, language: str) -> None:
        _ = translator(language).gettext
        xs = list(range(len(chart.times)))
        self.title.set_text(_("Resemblance to {artist}").format(artist=_drawable(chart.artist)))
        self.scores.set_data(xs, chart.scores)
        best = chart.best
        score = chart.scores[best]
        shown = math.isfinite(score)
        self.best.set_data([xs[best]] if shown else [], [score] if shown else [])
        self.best_label.set_text(_("best {score}").format(score=f"{score:.0f}") if shown else "")
        self.best_label.xy = (xs[best], score if shown else 0)
        for (title, mine, line, label), track in zip(self.tracks, chart.tracks, strict=True):
            _fill_track(title, mine, line, label, track, xs, chart.artist, language)
        self.xlabel.set_text(say(N_("Takes"), language))
        _dates(self.axes, chart.times, language)


def _fill_track(
    title: Any, mine: Any, line: Any, label: Any, track: Track, xs: list[int], artist: str,
    language: str,
) -> None:  # fmt: skip
    f = track.feature
    scale = 100.0 if f.percent else 1.0  # a fraction is drawn as the percent it is read as
    title.set_text(say(f.label, language))
    mine.set_data(xs, [v * scale for v in track.values])
    line.set_ydata([track.target * scale] * 2)
    value = quantity(track.target, f.unit, language, f.digits, as_percent=f.percent)
    label.set_text(f"{_drawable(artist)} {value}")
    label.xy = (1, track.target * scale)
    lo, hi = _span(track)
    mine.axes.set_ylim(lo * scale, hi * scale)


def _span(track: Track) -> tuple[float, float]:
    """The y range: the values and the target with a margin, at least 10 % of the
    feature's usual range (so a tiny wobble does not look like a big change)."""
    values = [v for v in (*track.values, track.target) if math.isfinite(v)]
    lo, hi = min(values), max(values)
    least = 0.1 * (track.feature.hi - track.feature.lo)
    pad = max((hi - lo) * 0.15, (least - (hi - lo)) / 2, 1e-9)
    return lo - pad, hi + pad


def _frame(ax: Any) -> None:
    ax.set_facecolor(BG)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.tick_params(colors=MUTED, labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)


def _title(ax: Any, size: float, bold: bool = False) -> Any:
    # a text above the axes, not set_title: a title makes matplotlib measure the whole
    # axes to place it (a third of the drawing time)
    return ax.text(0, 1.06, "", transform=ax.transAxes, color=FG, fontsize=size,
                   fontweight="bold" if bold else "normal", ha="left", va="bottom")  # fmt: skip


def _dates(axes: list[Any], times: tuple[float, ...], language: str) -> None:
    """Date labels under the takes (the first take of a day, at most a few), on the
    lowest axes; every axes gets the same take positions."""
    days, ticks = None, list[int]()
    for i, t in enumerate(times):
        day = datetime.fromtimestamp(t).date()
        if day != days:
            days, ticks = day, [*ticks, i]
    step = max(1, math.ceil(len(ticks) / MAX_DATE_TICKS))
    ticks = ticks[::step]
    for ax in axes:
        ax.set_xticks(ticks)
        ax.set_xlim(-0.5, max(len(times) - 0.5, 1.5))
        ax.tick_params(axis="x", labelbottom=ax is axes[-1])
    axes[-1].set_xticklabels([month_day(datetime.fromtimestamp(times[i]), language) for i in ticks])


def _small_png(rgba: Any) -> bytes:
    """A 256-colour PNG of the drawn canvas: a flat chart loses nothing and shrinks ~3x."""
    from PIL import Image

    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba).convert("RGB")
    small = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", compress_level=3)
    return out.getvalue()


# ---- fonts -----------------------------------------------------------------------------
def _chart_language(language: str) -> str:
    if language == "en" or _hangul_family():
        return language
    _warn_once(language)
    return "en"


@functools.cache
def _warn_once(language: str) -> None:
    log.warning("charts in %r need a Hangul font (%s): drawing them in English",
                language, MISSING_HINT)  # fmt: skip


@functools.cache
def _hangul_family() -> str:
    """The Hangul font's family name, registered with matplotlib ("" when none)."""
    found = hangul_font(False)
    if found is None:
        return ""
    from matplotlib import font_manager

    for bold in (False, True):
        font = hangul_font(bold)
        if font is not None:
            font_manager.fontManager.addfont(font.path)  # a collection: its first face
    return font_manager.FontProperties(fname=found.path).get_name()


def _style(language: str) -> Any:
    """matplotlib settings for one chart: fonts with fallback, so a Hangul artist name
    draws in an English chart too."""
    import matplotlib

    families = ["DejaVu Sans"]
    if _hangul_family():
        families.insert(0 if language != "en" else 1, _hangul_family())
    return matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False})


@functools.cache
def _glyphs() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    paths: list[str] = [str(font_manager.findfont("DejaVu Sans"))]
    found = hangul_font(False)
    if found is not None:
        paths.append(found.path)
    return frozenset().union(*(FT2Font(p).get_charmap() for p in paths))


def _drawable(text: str) -> str:
    """A name without the characters no font here has (emoji): never a missing glyph."""
    return "".join(c for c in text if ord(c) in _glyphs()) or "?"
