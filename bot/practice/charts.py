"""The /progress chart: reach (else resemblance) toward the target over a member's takes,
their timing (spread and offset, ms) when notes were timed, and the style features
furthest from the target, as one PNG that reads on a phone.

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

from .progress import Progress, Timing, Track
from .replies import goal_words

log = logging.getLogger(__name__)

WIDTH_IN, DPI = 4.0, 200  # 800 px wide
SCORE_IN, TIMING_IN, TRACK_IN, MARGINS_IN = 2.0, 1.4, 1.15, 0.9  # panel heights, margins
BG, FG, MUTED, GRID = "#0d1117", "#f0f6fc", "#9da7b3", "#262c36"
MEMBER, TARGET, BEST = "#39d0d8", "#ffa657", "#f2cc60"
SPREAD, OFFSET = "#7ee787", "#d2a8ff"  # the timing panel's two lines
MIN_TIMING_SPAN_MS = 30.0  # the timing panel's y range at least (a 3 ms wobble stays small)
KEY_BAND = 0.22  # room above the data for the keys, a share of the data's range
_BOX = {"facecolor": BG, "edgecolor": "none", "alpha": 0.75, "pad": 1.0}
MAX_DATE_TICKS = 4
_lock = threading.Lock()


def render_progress(chart: Progress, language: str = "en") -> bytes:
    """PNG bytes of ``chart`` (at least one take)."""
    language = _chart_language(language)
    with _lock:
        sheet = _sheet(len(chart.tracks), chart.timing is not None, language)
        with _style(language):
            sheet.fill(chart, language)
            sheet.canvas.draw()
            rgba = sheet.canvas.buffer_rgba()
    return _small_png(rgba)


@functools.cache
def _sheet(tracks: int, timing: bool, language: str) -> _Sheet:
    """One figure per layout, made once and refilled for every chart: making the axes
    and their ticks is most of matplotlib's time, drawing lines is little."""
    with _style(language):
        return _Sheet(tracks, timing)


class _Sheet:
    """A figure with a score panel, a timing panel (``timing``) and ``tracks`` feature
    panels, and the artists that each chart refills (lines, markers, labels)."""

    def __init__(self, tracks: int, timing: bool = False) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        heights = [SCORE_IN] + [TIMING_IN] * timing + [TRACK_IN] * tracks
        height = sum(heights) + MARGINS_IN
        self.fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor=BG)
        self.canvas = FigureCanvasAgg(self.fig)
        grid = self.fig.add_gridspec(
            len(heights), 1, height_ratios=heights,
            left=0.15, right=0.96, top=1 - 0.42 / height, bottom=0.42 / height, hspace=0.55,
        )  # fmt: skip
        self.axes = [self.fig.add_subplot(grid[i, 0]) for i in range(len(heights))]
        for ax in self.axes:
            _frame(ax)
        top = self.axes[0]
        top.set_ylim(0, 100 * (1 + KEY_BAND))  # scores never pass 100: the band is the keys'
        top.set_yticks([0, 50, 100])
        self.title = _title(top, 11, bold=True)
        (self.others,) = top.plot([], [], color=MUTED, linestyle="--", linewidth=1.0)
        (self.scores,) = top.plot([], [], color=TARGET, marker="o", markersize=3.5, linewidth=1.6)
        self.keys = _keys(top, TARGET, MUTED)
        (self.best,) = top.plot([], [], marker="*", markersize=13, color=BEST,
                                markeredgecolor=BG, linestyle="none", zorder=5)  # fmt: skip
        self.best_label = top.annotate("", (0, 0), xytext=(0, 9), textcoords="offset points",
                                       ha="center", color=BEST, fontsize=9)  # fmt: skip
        self.timing = _TimingPanel(self.axes[1]) if timing else None
        self.tracks = []
        for ax in self.axes[1 + timing :]:
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
        artist = _drawable(chart.artist)
        if chart.by_reach:  # reach leads; resemblance (0 for far artists) stays behind it
            self.title.set_text(_("Reach toward {artist}").format(artist=artist))
            self.others.set_data(xs, chart.scores)
            self.keys[0].set_text(_("reach"))
            self.keys[1].set_text(_("resemblance"))
        else:
            self.title.set_text(_("Resemblance to {artist}").format(artist=artist))
            self.others.set_data([], [])
            for key in self.keys:
                key.set_text("")
        for key in self.keys:
            key.set_visible(chart.by_reach)
        self.scores.set_data(xs, chart.headline)
        best = chart.best
        score = chart.headline[best]
        shown = math.isfinite(score)
        self.best.set_data([xs[best]] if shown else [], [score] if shown else [])
        self.best_label.set_text(_("best {score}").format(score=f"{score:.0f}") if shown else "")
        self.best_label.xy = (xs[best], score if shown else 0)
        if self.timing is not None and chart.timing is not None:
            self.timing.fill(chart.timing, xs, language)
        for (title, mine, line, label), track in zip(self.tracks, chart.tracks, strict=True):
            _fill_track(title, mine, line, label, track, xs, chart.artist, language)
        self.xlabel.set_text(say(N_("Takes"), language))
        _dates(self.axes, chart.times, language)


class _TimingPanel:
    """Spread (lower is tighter) and offset (positive: behind the beat) over the takes,
    in ms, around the grid's 0, with the member's timing goal as a dashed line."""

    def __init__(self, ax: Any) -> None:
        from matplotlib.ticker import MaxNLocator

        self.ax = ax
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.axhline(0, color=MUTED, linewidth=0.8)  # on the grid
        self.title = _title(ax, 9.5)
        (self.spread,) = ax.plot([], [], color=SPREAD, marker="o", markersize=2.5, linewidth=1.3)
        (self.offset,) = ax.plot([], [], color=OFFSET, marker="o", markersize=2.5, linewidth=1.3)
        self.goal = ax.axhline(0, color=TARGET, linestyle="--", linewidth=1.2)
        self.goal_label = ax.annotate("", xy=(1, 0), xycoords=("axes fraction", "data"),
                                      xytext=(-2, 3), textcoords="offset points", ha="right",
                                      va="bottom", color=TARGET, fontsize=8)  # fmt: skip
        self.keys = _keys(ax, SPREAD, OFFSET)

    def fill(self, timing: Timing, xs: list[int], language: str) -> None:
        _ = translator(language).gettext
        self.title.set_text(_("Timing (ms)"))
        self.keys[0].set_text(_("spread"))
        self.keys[1].set_text(_("offset, + = behind the beat"))
        self.spread.set_data(xs, timing.spreads)
        self.offset.set_data(xs, timing.offsets)
        goal = timing.goal
        shown = goal is not None and goal.ms is not None
        self.goal.set_visible(shown)
        self.goal_label.set_text(
            _("goal: {goal}").format(goal=goal_words(goal, language)) if goal and shown else ""
        )
        level = goal.ms if goal is not None and goal.ms is not None else 0.0
        self.goal.set_ydata([level] * 2)
        self.goal_label.xy = (1, level)
        values = [v for v in (*timing.spreads, *timing.offsets, level, 0.0) if math.isfinite(v)]
        lo, hi = min(values), max(values)
        pad = max((hi - lo) * 0.1, (MIN_TIMING_SPAN_MS - (hi - lo)) / 2)
        lo, hi = lo - pad, hi + pad
        self.ax.set_ylim(lo, hi + (hi - lo) * KEY_BAND)


def _keys(ax: Any, first: str, second: str) -> tuple[Any, Any]:
    """Two small keys side by side in the band at the top of the axes (the second placed
    after the first, whatever its length), boxed so a line under them does not hide them."""
    key = ax.text(0.015, 0.97, "", transform=ax.transAxes, color=first, fontsize=7.5,
                  ha="left", va="top", zorder=6, bbox=_BOX)  # fmt: skip
    after = ax.annotate("", xy=(1, 0), xycoords=key, xytext=(8, 0), textcoords="offset points",
                        color=second, fontsize=7.5, ha="left", va="bottom", zorder=6,
                        bbox=_BOX)  # fmt: skip
    return key, after


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
