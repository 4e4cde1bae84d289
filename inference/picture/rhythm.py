"""The rhythm section of the analysis image: where each syllable of the note landed on
its 16th-note grid, bar by bar.

One row per bar (the first ``MAX_BARS``; the rest are summarised in one line), 16 slots
each, strong lines on the four beats and light ones on the 16ths between them (the
off-beat 16ths drawn where the grid's swing puts them). Each syllable is a dot on its
slot's line moved by its deviation, so a late syllable sits right of its line and an
early one left, coloured by how far off the grid it is; each bar's own offset is
written at the row's end. A one-line header says which grid the note was measured
against ("On the beat: 92 BPM, you sit 40 ms behind, ±22 ms" or "Against your own
pulse: 88 BPM").

It draws a :class:`~inference.types.Rhythm` it is given: it measures no timing, and it
says nothing about what to practise (the reply's coaching tip does).
"""

from __future__ import annotations

import math

from ..types import Rhythm, Syllable
from .sheet import BG, FG, MARGIN, MUTED, TRACK, WIDTH, Sheet

__all__ = ["MAX_BARS", "draw_rhythm", "rhythm_height"]

SLOTS = 16  # 16th notes per bar
SLOTS_PER_BEAT = 4
MAX_BARS = 8  # rows drawn; a 30 s note at 92 BPM has ~11 bars
# Layout, in output pixels (the image is read ~360 px wide: a third of these).
GRID_X0 = 100  # bar numbers sit left of it
SLOT_W = 50  # 16 slots: the grid ends at 900, bar offsets are written right of it
GRID_X1 = GRID_X0 + SLOTS * SLOT_W
TITLE_H = 178  # title, header line, legend, beat numbers
ROW_H = 50
TRACK_H = 40
DOT_R = 11  # 22 px across: ~7 px on a phone
SUMMARY_H = 46
BOTTOM_H = 10
TEXT = 28  # the smallest text that stays readable at phone width
# Dot colours by |deviation| from the grid: within NEAR_MS, within FAR_MS, more.
NEAR_MS, FAR_MS = 30.0, 60.0
NEAR_COLOUR, MID_COLOUR, FAR_COLOUR = "#39d0d8", "#e3b341", "#ff7b72"
BEAT_LINE, SIXTEENTH_LINE = "#8b96a5", "#3d4552"


def rhythm_height(rhythm: Rhythm | None) -> int:
    """Pixel height of the section for ``rhythm``; 0 when there is nothing to draw."""
    if rhythm is None or not rhythm.syllables:
        return 0
    bars = _bar_count(rhythm)
    summary = SUMMARY_H if bars > MAX_BARS else 0
    return TITLE_H + min(bars, MAX_BARS) * ROW_H + summary + BOTTOM_H


def draw_rhythm(s: Sheet, y: int, rhythm: Rhythm) -> int:
    """Draws the section with its top edge at ``y``; returns the y below it."""
    s.text((MARGIN, y + 24), s._("Timing"), 38, bold=True)
    s.text((MARGIN, y + 72), _header(s, rhythm), TEXT, FG, max_px=WIDTH - 2 * MARGIN)
    _legend(s, y + 114)
    _beat_numbers(s, y + 158)
    y += TITLE_H
    bars = _bar_count(rhythm)
    by_bar: dict[int, list[Syllable]] = {}
    for syl in rhythm.syllables:
        by_bar.setdefault(syl.bar, []).append(syl)
    sixteenth_ms = _sixteenth_ms(rhythm)
    lines = _slot_positions(rhythm.swing)
    for bar in range(min(bars, MAX_BARS)):
        _row(s, y, bar, by_bar.get(bar, []), _bar_offset(rhythm, bar), sixteenth_ms, lines)
        y += ROW_H
    if bars > MAX_BARS:
        shown = WIDTH - 2 * MARGIN
        s.text((MARGIN, y + 24), _summary(s, rhythm, bars), TEXT, MUTED, max_px=shown)
        y += SUMMARY_H
    return y + BOTTOM_H


def _bar_count(rhythm: Rhythm) -> int:
    """Bars to account for: the grid's, or more when a syllable lies beyond them."""
    last = max((syl.bar for syl in rhythm.syllables), default=-1)
    return max(rhythm.bars, last + 1, 0)


def _bar_offset(rhythm: Rhythm, bar: int) -> float:
    offsets = rhythm.bar_offsets_ms
    return float(offsets[bar]) if 0 <= bar < len(offsets) else math.nan


def _sixteenth_ms(rhythm: Rhythm) -> float:
    """One 16th of the grid in ms (nan when neither the beat period nor the tempo is
    usable: the dots then sit on their lines)."""
    beat_s = rhythm.beat_s
    if not (math.isfinite(beat_s) and beat_s > 0) and math.isfinite(rhythm.bpm):
        beat_s = 60.0 / rhythm.bpm if rhythm.bpm > 0 else math.nan
    return beat_s * 1000.0 / SLOTS_PER_BEAT if math.isfinite(beat_s) and beat_s > 0 else math.nan


def _slot_positions(swing: float) -> tuple[float, ...]:
    """x of each slot's line: the off-beat 16ths later by the swing (0.5 straight)."""
    # ``swing`` is where the off-beat 16th sits in its 8th; one 8th is two slots.
    delay = 2.0 * (min(max(swing, 0.5), 0.75) - 0.5) if math.isfinite(swing) else 0.0
    return tuple(GRID_X0 + SLOT_W * (k + 0.5 + delay * (k % 2)) for k in range(SLOTS))


def _ms_text(s: Sheet, value: float, *, signed: bool = False) -> str:
    """A duration in the language's unit template: "42 ms", "+42 ms" when ``signed``,
    "-" for nan."""
    if not math.isfinite(value):
        return "-"
    value = round(value) or 0  # no "-0"
    shown = f"{value:+d}" if signed and value else f"{abs(value):d}"
    return s._("{value} ms").format(value=shown)


def _header(s: Sheet, rhythm: Rhythm) -> str:
    """The one line saying which grid it is, its tempo, and (over a beat) where the
    member sits against it and how tightly."""
    bpm = f"{rhythm.bpm:.0f}" if math.isfinite(rhythm.bpm) else "?"
    if rhythm.grid != "beat":
        parts = [s._("Against your own pulse: {bpm} BPM").format(bpm=bpm)]
    else:
        parts = [s._("On the beat: {bpm} BPM").format(bpm=bpm)]
        offset = rhythm.offset_ms
        if math.isfinite(offset) and round(offset) == 0:
            parts.append(s._("right on it"))
        elif math.isfinite(offset):
            where = s._("you sit {ms} behind") if offset > 0 else s._("you sit {ms} ahead")
            parts.append(where.format(ms=_ms_text(s, offset)))
    if math.isfinite(rhythm.tightness_ms):
        parts.append("±" + _ms_text(s, rhythm.tightness_ms))
    return ", ".join(parts)


def _legend(s: Sheet, y: int) -> None:
    """What the dot colours mean, and which way is early."""
    near, far = f"{NEAR_MS:.0f}", f"{FAR_MS:.0f}"
    entries = (
        (NEAR_COLOUR, s._("within {ms}").format(ms=_ms_text(s, NEAR_MS))),
        (MID_COLOUR, s._("{low}-{high} ms").format(low=near, high=far)),
        (FAR_COLOUR, s._("over {ms}").format(ms=_ms_text(s, FAR_MS))),
    )
    x = float(MARGIN)
    for colour, label in entries:
        _dot(s, x + DOT_R, y, colour)
        x += 2 * DOT_R + 8
        s.text((x, y), label, TEXT, MUTED)
        x += s.font(TEXT, False, label).getlength(label) + 28
    arrows = "← " + s._("early") + "   " + s._("late") + " →"
    if x + s.font(TEXT, False, arrows).getlength(arrows) <= WIDTH - MARGIN:
        s.text((WIDTH - MARGIN, y), arrows, TEXT, MUTED, anchor="rm")


def _beat_numbers(s: Sheet, y: int) -> None:
    """Column heads: "Bar", the beats 1-4 over their lines, "Offset"."""
    s.text((MARGIN, y), s._("Bar"), TEXT, MUTED)
    for beat in range(SLOTS // SLOTS_PER_BEAT):
        x = GRID_X0 + SLOT_W * (beat * SLOTS_PER_BEAT + 0.5)
        s.text((x, y), str(beat + 1), TEXT, FG, bold=True, anchor="mm")
    s.text((WIDTH - MARGIN, y), s._("Offset"), TEXT, MUTED, anchor="rm")


def _row(
    s: Sheet,
    y: int,
    bar: int,
    syllables: list[Syllable],
    offset_ms: float,
    sixteenth_ms: float,
    lines: tuple[float, ...],
) -> None:
    """One bar: its number, the slot lines on a track, the dots, its offset."""
    mid = y + ROW_H / 2
    top, bottom = mid - TRACK_H / 2, mid + TRACK_H / 2
    s.text((MARGIN, mid), str(bar + 1), TEXT, MUTED)
    s.rect(GRID_X0, top, GRID_X1 - GRID_X0, TRACK_H, TRACK)
    for k, x in enumerate(lines):
        beat = k % SLOTS_PER_BEAT == 0
        s.draw.line((x, top, x, bottom - 1), fill=BEAT_LINE if beat else SIXTEENTH_LINE,
                    width=3 if beat else 1)  # fmt: skip
    for syl in syllables:
        slot = min(max(int(syl.slot), 0), SLOTS - 1)
        dev = float(syl.deviation_ms)
        shift = dev / sixteenth_ms if math.isfinite(dev) and math.isfinite(sixteenth_ms) else 0.0
        x = lines[slot] + SLOT_W * min(max(shift, -0.5), 0.5)
        x = min(max(x, GRID_X0 + DOT_R), GRID_X1 - DOT_R)
        _dot(s, x, mid, _colour(dev))
    s.text((WIDTH - MARGIN, mid), _ms_text(s, offset_ms, signed=True), TEXT,
           _colour(offset_ms), bold=True, anchor="rm")  # fmt: skip


def _colour(deviation_ms: float) -> str:
    if not math.isfinite(deviation_ms):
        return MUTED
    off = abs(deviation_ms)
    return NEAR_COLOUR if off <= NEAR_MS else MID_COLOUR if off <= FAR_MS else FAR_COLOUR


def _dot(s: Sheet, x: float, y: float, colour: str) -> None:
    # A ring of the background keeps neighbouring dots apart where they overlap.
    s.draw.ellipse((x - DOT_R, y - DOT_R, x + DOT_R, y + DOT_R), fill=colour, outline=BG, width=2)


def _summary(s: Sheet, rhythm: Rhythm, bars: int) -> str:
    """One line for the bars not drawn: which, and the range of their offsets."""
    first, last = MAX_BARS + 1, bars
    if first == last:
        text = s._("Bar {first} not shown").format(first=first)
    else:
        text = s._("Bars {first}-{last} not shown").format(first=first, last=last)
    hidden = [_bar_offset(rhythm, b) for b in range(MAX_BARS, bars)]
    finite = [v for v in hidden if math.isfinite(v)]
    if not finite:
        return text
    low, high = _ms_text(s, min(finite), signed=True), _ms_text(s, max(finite), signed=True)
    if low == high:
        return text + ": " + s._("offset {value}").format(value=low)
    return text + ": " + s._("offsets {low} to {high}").format(low=low, high=high)
