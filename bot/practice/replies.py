"""The practice sentences: the target line that leads a reply (an artist's reach, or a
timing goal), /target, /progress, /leaderboard and /share, in the member's language (the
i18n catalogue).

Plain text like ``bot.replies``; it words what the service and ``bot.practice`` decided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from i18n import month_day, translator

from ..jobs import MatchOut, RhythmOut
from ..store.history import Entry, Standing
from .progress import Progress
from .timing import BEAT, TimingGoal, TimingStanding, measure_note

LEADERBOARD_DAYS = 7


def target_line(target: MatchOut, rank: int, artists: int, before: Standing, language: str) -> str:
    """'Target Kendrick: reach 61 (+7 since your last take, best 64), your #3 closest of
    40 artists.' ``before`` is on reach when the note has one (every worker that measures
    it), else on resemblance (and the line says the resemblance, as it did before reach)."""
    _ = translator(language).gettext
    by_reach = math.isfinite(target.reach)
    now = round(target.reach if by_reach else target.score)
    change = _change(now, before, language)
    if by_reach:
        return _(
            "Target {artist}: reach {score} ({change}), your #{rank} closest of {count} artists."
        ).format(artist=target.artist, score=now, change=change, rank=rank, count=artists)
    return _(
        "Target {artist}: {score} ({change}), your #{rank} closest of {count} artists."
    ).format(artist=target.artist, score=now, change=change, rank=rank, count=artists)


def _change(now: int, before: Standing, language: str) -> str:
    """'+7 since your last take, best 64' (higher is better)."""
    _ = translator(language).gettext
    if before.previous is None:
        change = _("your first take toward them") if before.best is None else ""
    elif now == before.previous:
        change = _("no change since your last take")
    else:
        change = _("{delta} since your last take").format(delta=f"{now - before.previous:+d}")
    if before.best is not None:
        best = (
            _("a new best")
            if now > before.best
            else _("best {score}").format(score=max(now, before.best))
        )
        change = _("{change}, {best}").format(change=change, best=best) if change else best
    return change


def timing_line(
    goal: TimingGoal, rhythm: RhythmOut | None, before: TimingStanding, language: str
) -> str:
    """'Timing goal tight: 24 ms spread (-7 ms since your last take, best 22 ms).'"""
    _ = translator(language).gettext
    head = _("Timing goal {goal}:").format(goal=goal_words(goal, language))
    value = measure_note(goal, rhythm)
    if rhythm is None:
        return " ".join(
            [head, _("I could not place enough syllables on a grid to time this note.")]
        )
    if value is None:  # a pocket, and a note with no beat
        return " ".join(
            [
                head,
                _(
                    "this note has no beat I could hear (timed against your own pulse), "
                    "so there is no pocket to measure; send a take over a beat."
                ),
            ]
        )
    change = _timing_change(round(value), before, language)
    if goal.kind == "tight":
        pulse = "" if rhythm.grid == BEAT else _(" against your own pulse")
        text = _("{spread} ms spread{pulse} ({change}).").format(
            spread=round(value), pulse=pulse, change=change
        )
    else:
        text = _("you sat {offset}, {distance} ms from it ({change}).").format(
            offset=pocket_words(rhythm.offset_ms, language), distance=round(value), change=change
        )
    lines = [head, text]
    if goal.reached(value):
        lines.append(_("Goal reached!"))
    return " ".join(lines)


def _timing_change(now: int, before: TimingStanding, language: str) -> str:
    """'-7 ms since your last take, best 22 ms' (lower is better)."""
    _ = translator(language).gettext
    if before.previous is None:
        return _("your first timed take")
    best_ms = before.best if before.best is not None else before.previous
    previous, best = round(before.previous), round(best_ms)
    if now == previous:
        change = _("no change since your last take")
    else:
        change = _("{delta} ms since your last take").format(delta=f"{now - previous:+d}")
    record = _("a new best") if now < best else _("best {ms} ms").format(ms=min(now, best))
    return _("{change}, {best}").format(change=change, best=record)


def goal_words(goal: TimingGoal, language: str) -> str:
    """'tight', 'tight, 20 ms spread', '60 ms behind the beat'."""
    _ = translator(language).gettext
    if goal.kind == "tight":
        if goal.ms is None:
            return _("tight")
        return _("tight, {ms} ms spread").format(ms=f"{goal.ms:g}")
    return pocket_words(goal.ms or 0.0, language)


def pocket_words(offset_ms: float, language: str) -> str:
    """'72 ms behind the beat', '15 ms ahead of the beat', 'right on the beat'."""
    _ = translator(language).gettext
    ms = round(offset_ms)
    if ms > 0:
        return _("{ms} ms behind the beat").format(ms=ms)
    if ms < 0:
        return _("{ms} ms ahead of the beat").format(ms=-ms)
    return _("right on the beat")


def target_gone(artist: str, language: str) -> str:
    _ = translator(language).gettext
    return _(
        "Your target {artist} is not in the catalogue any more; pick another with /target."
    ).format(artist=artist)


def target_shown(artist: str, language: str, goal: TimingGoal | None = None) -> str:
    _ = translator(language).gettext
    if goal is not None:
        return _(
            "Your target is a timing goal: {goal}. Every reply leads with your timing; "
            "/progress shows your takes, /target clear stops."
        ).format(goal=goal_words(goal, language))
    if not artist:
        return _(
            "You have no target yet. Pick the artist you practise toward: /target <artist> "
            "(/artists lists them), or a timing goal: /target tight or /target pocket <ms>."
        )
    return _(
        "You practise toward {artist}. Every reply leads with how close you got; "
        "/progress shows your takes, /target clear stops."
    ).format(artist=artist)


def target_set(artist: str, language: str) -> str:
    _ = translator(language).gettext
    return _(
        "Your target is {artist} now. Send a take: every reply leads with how close you got."
    ).format(artist=artist)


def goal_set(goal: TimingGoal, language: str) -> str:
    _ = translator(language).gettext
    text = _(
        "Your target is a timing goal now: {goal}. Send a take: every reply leads with your timing."
    ).format(goal=goal_words(goal, language))
    if goal.kind == "pocket":
        text += " " + _("A pocket is measured over a beat: rap over one.")
    return text


def goal_usage(language: str) -> str:
    _ = translator(language).gettext
    return _(
        "A timing goal is /target tight (as tight as you can), /target tight <ms> (a "
        "spread to reach, 5-200) or /target pocket <ms> (how far behind the beat to sit, "
        "-250 to 250; negative: ahead)."
    )


def target_cleared(had: str, language: str) -> str:
    _ = translator(language).gettext
    if not had:
        return _("You had no target set.")
    return _("Target cleared: replies lead with your closest artist again.")


def target_unknown(name: str, close: Sequence[str], language: str) -> str:
    _ = translator(language).gettext
    if close:
        return _("No artist called '{name}' in my catalogue. Did you mean: {names}?").format(
            name=name, names=", ".join(close)
        )
    return _("No artist called '{name}' in my catalogue; /artists lists them.").format(name=name)


def progress_needs_takes(count: int, language: str) -> str:
    tr = translator(language)
    return tr.ngettext(
        "I have {n} take of yours so far. Send at least two voice notes (a day apart is fine) "
        "and /progress will chart how close you get.",
        "I have {n} takes of yours so far. Send at least two voice notes (a day apart is fine) "
        "and /progress will chart how close you get.",
        count,
    ).format(n=count)


def progress_caption(chart: Progress, has_target: bool, language: str) -> str:
    """The text under a progress chart: takes, since when, best, latest."""
    tr = translator(language)
    _ = tr.gettext
    best, latest = chart.headline[chart.best], chart.headline[-1]
    first = datetime.fromtimestamp(chart.times[0])
    lines = [
        tr.ngettext(
            "Your progress toward {artist}: {n} take since {date}.",
            "Your progress toward {artist}: {n} takes since {date}.",
            len(chart.times),
        ).format(artist=chart.artist, n=len(chart.times), date=month_day(first, language))
    ]
    if best == best:  # not nan
        when = month_day(datetime.fromtimestamp(chart.times[chart.best]), language)
        scores = dict(best=f"{best:.0f}", date=when, latest=_whole(latest))
        if chart.by_reach:
            lines.append(_("Best reach {best} ({date}), latest {latest}.").format(**scores))
        else:
            lines.append(_("Best {best} ({date}), latest {latest}.").format(**scores))
    lines.extend(_timing_caption(chart, language))
    goal = chart.timing.goal if chart.timing else None
    if not has_target and goal is not None:
        lines.append(_("Your target is a timing goal, so the artist is your closest one lately."))
    elif not has_target:
        lines.append(
            _(
                "You have no target, so this is your closest artist lately; "
                "/target <artist> sets one."
            )
        )
    return " ".join(lines)


def _whole(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"


def _timing_caption(chart: Progress, language: str) -> list[str]:
    """'Timing: best 22 ms spread (Dec 6), latest 24 ms.' (or the pocket's distance)."""
    _ = translator(language).gettext
    timing = chart.timing
    best = timing.best() if timing else None
    if timing is None or best is None:
        return []
    goal = timing.goal or TimingGoal("tight", None)
    values = [
        goal.measure(BEAT if off == off else "", off, spread)
        for off, spread in zip(timing.offsets, timing.spreads, strict=True)
    ]
    when = month_day(datetime.fromtimestamp(chart.times[best]), language)
    latest = values[-1]
    ms = dict(
        best=f"{values[best]:.0f}", date=when, latest="-" if latest is None else f"{latest:.0f}"
    )
    if goal.kind == "tight":
        return [_("Timing: best {best} ms spread ({date}), latest {latest} ms.").format(**ms)]
    return [
        _("Pocket {goal}: closest {best} ms from it ({date}), latest {latest} ms.").format(
            goal=goal_words(goal, language), **ms
        )
    ]


def leaderboard(artist: str, entries: Sequence[Entry], language: str) -> str:
    tr = translator(language)
    _ = tr.gettext
    if not entries:
        return _(
            "Nobody here who shares their takes sent one this week. "
            "Turn it on with /share on, then send a voice note."
        )
    head = _("Closest to {artist} this week (members who turned on /share):").format(artist=artist)
    rows = [
        tr.ngettext("{i}. {name}: {score} ({n} take)", "{i}. {name}: {score} ({n} takes)", e.takes)
        .format(i=i, name=e.display_name, score=e.best, n=e.takes)
        for i, e in enumerate(entries, 1)
    ]  # fmt: skip
    return "\n".join([head, *rows])


def leaderboard_usage(language: str) -> str:
    _ = translator(language).gettext
    return _("Name an artist: /leaderboard <artist> (/artists lists them).")


def server_only(language: str) -> str:
    _ = translator(language).gettext
    return _("Leaderboards belong to a server or group: use this there.")


def share_state(on: bool, changed: bool, language: str) -> str:
    _ = translator(language).gettext
    if on:
        return (
            _("You now share your takes here: /leaderboard lists your best of the week.")
            if changed
            else _("You already share your takes here. /share off stops it.")
        )
    return (
        _("You no longer share your takes here; you are off this server's leaderboards.")
        if changed
        else _("You don't share your takes here (it is off unless you turn it on: /share on).")
    )
