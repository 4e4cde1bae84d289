"""The timing line of a reply: the one thing about how the note rode its grid that matters
most, in the member's language.

It words what the workers measured (``bot.jobs.RhythmOut``; the metrics are defined in
docs/flow.md) and picks one message, in this order: rushing ahead of the beat, dragging
far behind it, loose timing, bars whose pocket moves, a tempo that drifts (own pulse), or
praise. The reference points are the published ones (pros sit 40-100 ms behind the grid
with 16-28 ms of spread after a per-bar fit; Ohriner, *Flow*, 2019). No measuring here.
"""

from __future__ import annotations

import math

from i18n import translator

from .jobs import RhythmOut

RUSH_MS = -25.0  # ahead of the grid by more than this: rushing
DRAG_MS = 120.0  # behind by more than this: dragging
LOOSE_MS = 40.0  # spread after each bar's offset above this: loose
BAR_SHIFT_MS = 45.0  # a bar whose offset moves this far from the note's: uneven pocket
DRIFT_PCT = 4.0  # own pulse: tempo change start to end above this: drifting
MIN_SYLLABLES = 12  # fewer placed syllables: say nothing


def timing_line(rhythm: RhythmOut | None, language: str = "en") -> str:
    """'Timing (on the beat, 92 BPM): you sit 70 ms behind ...'; "" when not measured."""
    if rhythm is None or rhythm.syllables < MIN_SYLLABLES or not math.isfinite(rhythm.offset_ms):
        return ""
    _ = translator(language).gettext
    bpm = f"{rhythm.bpm:.0f}"
    on_beat = rhythm.grid == "beat"
    head = (
        _("Timing (on the beat, {bpm} BPM)") if on_beat else _("Timing (your own pulse, {bpm} BPM)")
    ).format(bpm=bpm)
    return f"{head}: {_tip(rhythm, on_beat, language)}"


def _tip(r: RhythmOut, on_beat: bool, language: str) -> str:
    _ = translator(language).gettext
    off, spread = round(r.offset_ms), round(r.tightness_ms)
    if on_beat and r.offset_ms < RUSH_MS:
        return _(
            "you rush, {ms} ms ahead of the beat. Lay back: let the kick and snare land, "
            "then come in."
        ).format(ms=-off)
    if on_beat and r.offset_ms > DRAG_MS:
        return _(
            "you drag {ms} ms behind the beat, past a laid-back pocket (pros sit 40-100 ms "
            "behind). Come in a little earlier."
        ).format(ms=off)
    if math.isfinite(r.tightness_ms) and r.tightness_ms > LOOSE_MS:
        return _(
            "your syllables scatter ±{spread} ms around the grid (pros: ±16-28 ms). Loop two "
            "bars and lock each syllable to the hi-hats."
        ).format(spread=spread)
    uneven = _uneven_bars(r)
    if on_beat and uneven:
        first, last, shift = uneven
        if first == last:
            text = (
                _("{pocket}, but bar {bars} rushes: keep the lag steady.")
                if shift < 0
                else _("{pocket}, but bar {bars} drags: keep the lag steady.")
            )
        else:
            text = (
                _("{pocket}, but bars {bars} rush: keep the lag steady.")
                if shift < 0
                else _("{pocket}, but bars {bars} drag: keep the lag steady.")
            )
        bars = str(first) if first == last else f"{first}-{last}"
        return text.format(pocket=_pocket(off, language), bars=bars)
    if not on_beat and math.isfinite(r.tempo_drift_pct) and abs(r.tempo_drift_pct) > DRIFT_PCT:
        if r.tempo_drift_pct > 0:
            text = _("you speed up {pct} from start to end. Keep your pulse steady: tap a foot.")
        else:
            text = _("you slow down {pct} from start to end. Keep your pulse steady: tap a foot.")
        return text.format(pct=f"{abs(r.tempo_drift_pct):.0f} %")
    share = f"{100 * r.on_grid_share:.0f} %"
    if on_beat:
        return _("{pocket}, ±{spread} ms, {share} on the grid. Keep that pocket.").format(
            pocket=_pocket(off, language), spread=spread, share=share
        )
    return _("steady: ±{spread} ms, {share} on your grid. Now try it over a beat.").format(
        spread=spread, share=share
    )


def _pocket(off: int, language: str) -> str:
    _ = translator(language).gettext
    if off >= 40:
        return _("you sit {ms} ms behind the beat, a laid-back pocket").format(ms=off)
    if off > 10:
        return _("you sit {ms} ms behind the beat").format(ms=off)
    if off < -10:
        return _("you sit {ms} ms ahead of the beat").format(ms=-off)
    return _("you sit right on the beat")


def _uneven_bars(r: RhythmOut) -> tuple[int, int, float] | None:
    """(first bar, last bar, shift) of the longest run of bars (1-based) whose offset moves
    BAR_SHIFT_MS or more from the note's, all the same way; None when the pocket holds."""
    best: tuple[int, int, float] | None = None
    run: list[tuple[int, float]] = []
    for i, v in enumerate((*r.bar_offsets_ms, math.nan)):
        shift = v - r.offset_ms if math.isfinite(v) else 0.0
        if abs(shift) >= BAR_SHIFT_MS and (not run or (shift > 0) == (run[0][1] > 0)):
            run.append((i + 1, shift))
            continue
        if run and (best is None or len(run) > best[1] - best[0] + 1):
            best = (run[0][0], run[-1][0], sum(s for _, s in run) / len(run))
        run = [(i + 1, shift)] if abs(shift) >= BAR_SHIFT_MS else []
    return best
