"""The practice sentences: the target line that leads a reply, /target, /progress,
/leaderboard and /share, in the member's language (the i18n catalogue).

Plain text like ``bot.replies``; it words what the service and ``bot.practice`` decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from i18n import month_day, translator

from ..jobs import MatchOut
from ..store.history import Entry, Standing
from .progress import Progress

LEADERBOARD_DAYS = 7


def target_line(target: MatchOut, rank: int, artists: int, before: Standing, language: str) -> str:
    """'Target Kendrick: 61 (+7 since your last take, best 64), your #3 closest of 40.'"""
    _ = translator(language).gettext
    now = round(target.score)
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
    return _(
        "Target {artist}: {score} ({change}), your #{rank} closest of {count} artists."
    ).format(artist=target.artist, score=now, change=change, rank=rank, count=artists)


def target_gone(artist: str, language: str) -> str:
    _ = translator(language).gettext
    return _(
        "Your target {artist} is not in the catalogue any more; pick another with /target."
    ).format(artist=artist)


def target_shown(artist: str, language: str) -> str:
    _ = translator(language).gettext
    if not artist:
        return _(
            "You have no target yet. Pick the artist you practise toward: /target <artist> "
            "(/artists lists them)."
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
    best, latest = chart.scores[chart.best], chart.scores[-1]
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
        lines.append(
            _("Best {best} ({date}), latest {latest}.").format(
                best=f"{best:.0f}", date=when, latest="-" if latest != latest else f"{latest:.0f}"
            )
        )
    if not has_target:
        lines.append(
            _(
                "You have no target, so this is your closest artist lately; "
                "/target <artist> sets one."
            )
        )
    return " ".join(lines)


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
