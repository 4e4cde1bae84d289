"""Every sentence the bot says, written for people; the same on every platform.

Plain text only (no Markdown: Telegram would show the asterisks). Adapters may split long
texts to fit their limits, but never reword them. Each function words its answer in the
member's ``language`` through the i18n catalogue (English by default; constants here are
English message ids, said with ``i18n.say``). This module only formats: it does not
decide what is allowed (the service does) and measures nothing (the workers do). The
practice sentences (targets, progress, leaderboards) are in ``bot.practice_replies``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from i18n import N_, number, translator

from .errors import JobError, JobRejected, JobTimedOut, PoolBusy, PoolClosed, WorkerCrashed
from .jobs import Analysis, ArtistEntry, Comparison, StyleLine
from .limits import Wait
from .settings import Settings
from .store.history import Forgotten
from .timing import timing_line

MAX_TIPS = 3
RUNNERS_UP = 4
NOTICEABLE = 0.06  # a difference under 6 % of a feature's usual range is not worth a tip

EMPTY_FILE = N_("That file is empty. Send a voice note, or an audio file.")
DIFFERENT_SCOPES = N_("I can only compare two members of the same server or chat.")
SAME_MEMBER = N_("Pick two different members to compare.")
BUSY = N_("I'm busy with other notes right now. Please try again in a minute.")

# For each feature: the wording, then what to try when the artist's value is higher / lower.
_TIPS: dict[str, tuple[str, str, str]] = {
    "syllable_rate": (
        N_("Flow: you rap at {mine}; {artist} raps at {theirs}"),
        N_("speed up your delivery, more syllables per bar"),
        N_("slow down and let the words breathe"),
    ),
    "tempo_bpm": (
        N_("Tempo: your beat runs at {mine}; {artist}'s at {theirs}"),
        N_("try a faster beat"),
        N_("try a slower beat"),
    ),
    "pitch_median_hz": (
        N_("Pitch: your voice sits at {mine}; {artist}'s at {theirs}"),
        N_("try pitching your voice up"),
        N_("try pitching your voice down, from the chest"),
    ),
    "pitch_range_semitones": (
        N_("Melody: your pitch moves over {mine}; {artist}'s over {theirs}"),
        N_("put more melody into your lines"),
        N_("keep your delivery flatter and steadier"),
    ),
    "energy_db": (
        N_("Energy: you come in at {mine}; {artist} at {theirs}"),
        N_("push more energy (or get closer to the mic)"),
        N_("pull back a little; you are louder than needed"),
    ),
    "energy_dynamics_db": (
        N_("Dynamics: your loudness swings by {mine}; {artist}'s by {theirs}"),
        N_("punch the key words harder"),
        N_("keep your level steadier"),
    ),
    "brightness_hz": (
        N_("Tone: your tone centres at {mine}; {artist}'s at {theirs}"),
        N_("aim for a brighter, more forward tone"),
        N_("aim for a darker, warmer tone"),
    ),
    "pause_ratio": (
        N_("Pauses: you leave {mine} of the take silent; {artist} leaves {theirs}"),
        N_("leave more room for breaths and rests"),
        N_("fill the gaps and ride the beat"),
    ),
}


def analysis(name: str, result: Analysis, language: str = "en", lead: str = "") -> str:
    """The answer to a note: ``lead`` (the target line, when one is set) first, then the
    top match, runners-up, tips against the target (else the top match) and notes."""
    _ = translator(language).gettext
    top, rest = result.matches[0], result.matches[1 : 1 + RUNNERS_UP]
    lines = [lead] if lead else []
    head = _("{name}, you sound most like {artist}: {score}/100").format(
        name=name, artist=top.artist, score=f"{top.score:.0f}"
    )
    if top.maybe_self:
        lines += [
            head + ".",
            _(
                "This may be {artist} themself: the voice matches {artist}'s own recordings "
                "(identity {identity}/100)."
            ).format(artist=top.artist, identity=f"{top.identity:.0f}"),
        ]
    else:
        lines.append(head + (_(", {meaning}.").format(meaning=top.meaning) if top.meaning else "."))
    if rest:
        runners = ", ".join(f"{m.artist} {m.score:.0f}" for m in rest)
        lines.append(_("Runners-up: {list}").format(list=runners))
    if any(m.demo for m in result.matches):
        lines.append(_("(Demo catalogue: synthetic voices, not real artists.)"))
    versus = result.target.artist if result.target else top.artist
    tips = style_tips(result.style_lines, versus, language=language)
    if tips:
        lines += ["", _("Next to {artist}:").format(artist=versus), *(f"- {t}" for t in tips)]
    timing = timing_line(result.rhythm, language)
    if timing:
        lines += ["", timing]
    lines += [_("Note: {note}").format(note=w) for w in result.warnings]
    return "\n".join(lines)


def style_tips(
    lines: Sequence[StyleLine], artist: str, limit: int = MAX_TIPS, language: str = "en"
) -> list[str]:
    """The ``limit`` biggest differences from the artist, each with what to try."""
    _ = translator(language).gettext
    gaps = []
    for line in lines:
        if line.name not in _TIPS or not (math.isfinite(line.mine) and math.isfinite(line.theirs)):
            continue
        gap = (line.theirs - line.mine) / line.span
        if abs(gap) >= NOTICEABLE:
            gaps.append((abs(gap), gap, line))
    gaps.sort(key=lambda g: g[0], reverse=True)
    tips = []
    for _size, gap, line in gaps[:limit]:
        what, higher, lower = _TIPS[line.name]
        head = _(what).format(mine=line.mine_text, theirs=line.theirs_text, artist=artist)
        advice = _(higher if gap > 0 else lower)
        tips.append(_("{what}. To sound closer, {advice}.").format(what=head, advice=advice))
    if not tips and any(line.name in _TIPS for line in lines):
        tips.append(
            _("Your tempo, flow, pitch and energy are already close to {artist}'s.").format(
                artist=artist
            )
        )
    return tips


def comparison(a: str, b: str, result: Comparison, language: str = "en") -> str:
    _ = translator(language).gettext
    first = _("{a} and {b}: {score}/100 alike").format(a=a, b=b, score=f"{result.score:.0f}")
    first += _(", {meaning}.").format(meaning=result.meaning) if result.meaning else "."
    lines = [first]
    if result.maybe_same_voice:
        lines.append(_("These two notes may be the same person."))
    lines.append(
        _("Closest artist of {a}: {first}; of {b}: {second}.").format(
            a=a, b=b, first=result.closest[0], second=result.closest[1]
        )
    )
    return "\n".join(lines)


def job_failed(error: JobError, language: str = "en") -> str:
    _ = translator(language).gettext
    if isinstance(error, PoolBusy):
        return _(BUSY)
    if isinstance(error, JobRejected):
        return _("I couldn't analyse that: {reason}").format(reason=error)
    if isinstance(error, WorkerCrashed):
        return _(
            "The analysis crashed on our side. Nothing was kept; "
            "please send the note again (or another take)."
        )
    if isinstance(error, JobTimedOut):
        return _(
            "That took too long to analyse and was stopped. Try a shorter note (30 s is plenty)."
        )
    if isinstance(error, PoolClosed):
        return _("I'm not ready right now ({reason}). Please try again in a minute.").format(
            reason=error if language == "en" else _("the analysis service is starting or stopping")
        )
    if language == "en":  # the distributed pool's own failures (offline, broker lost)
        return str(error)
    return _("Analysis is unavailable right now. Please try again in a minute.")


def too_big(size: int, max_mb: float, language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "That file is {size} MB; I take files up to {max} MB. A 30-second voice note is plenty."
    ).format(size=number(size / 2**20, language, 1), max=f"{max_mb:g}")


def not_audio(name: str, language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "'{name}' doesn't look like audio. Send a voice note or an audio file "
        "(ogg, opus, mp3, wav, m4a, flac)."
    ).format(name=name)


def too_long(seconds: float, max_seconds: float, language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "That recording is {seconds} s long; I take up to {max} s. Send your best 30 seconds."
    ).format(seconds=f"{seconds:.0f}", max=f"{max_seconds:.0f}")


def slow_down(wait: Wait, language: str = "en") -> str:
    _ = translator(language).gettext
    if wait.in_flight:
        return _("I'm still working on your last note. One at a time, please.")
    return _("That's a lot of notes in a minute. Try again in {seconds} s.").format(
        seconds=math.ceil(wait.seconds)
    )


def no_profile(names: Sequence[str], language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "I have no recent voice note from {who} here. "
        "Each of you sends a voice note first, then /compare."
    ).format(who=_(" and ").join(names))


def stale_profile(names: Sequence[str], language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "The saved note of {who} was analysed by another voice model. "
        "Send a new voice note, then /compare again."
    ).format(who=_(" and ").join(names))


def forgotten(gone: Forgotten, language: str = "en") -> str:
    """What /forget deleted: analyses, practice takes, target and sharing."""
    tr = translator(language)
    _ = tr.gettext
    total, places = sum(gone.profiles.values()), len(gone.profiles)
    if not (total or gone.takes or gone.target or gone.shares):
        return _("I had nothing saved about you. (Audio is never kept.)")
    lines = []
    if total:
        where = tr.ngettext("{n} server or chat", "{n} servers or chats", places).format(n=places)
        lines.append(
            tr.ngettext(
                "Deleted {n} saved analysis of your voice from {where}.",
                "Deleted {n} saved analyses of your voice from {where}.",
                total,
            ).format(n=total, where=where)
        )
    if gone.takes:
        lines.append(
            tr.ngettext(
                "Deleted {n} take from your practice history.",
                "Deleted {n} takes from your practice history.",
                gone.takes,
            ).format(n=gone.takes)
        )
    if gone.target:
        lines.append(_("Your target is cleared."))
    if gone.shares:
        lines.append(_("You are off every leaderboard."))
    lines.append(_("Nothing about you is kept now (audio never was)."))
    return " ".join(lines)


def artist_pages(entries: Sequence[ArtistEntry], per_page: int, language: str = "en") -> list[str]:
    _ = translator(language).gettext
    if not entries:
        return [_("The catalogue is empty.")]
    n_pages = math.ceil(len(entries) / per_page)
    pages = []
    for p in range(n_pages):
        chunk = entries[p * per_page : (p + 1) * per_page]
        head = _("Artists ({count}), page {page}/{pages}:").format(
            count=len(entries), page=p + 1, pages=n_pages
        )
        rows = [
            _("{i}. {name}: {clips} clips, {length}").format(
                i=p * per_page + i, name=e.name, clips=e.clips, length=_minutes(e.seconds, language)
            )
            + (" " + _("(demo voice)") if e.demo else "")
            for i, e in enumerate(chunk, 1)
        ]
        pages.append("\n".join([head, *rows]))
    return pages


def _minutes(seconds: float, language: str) -> str:
    _ = translator(language).gettext
    if seconds < 90:
        return _("{value} s").format(value=f"{seconds:.0f}")
    return _("{value} min").format(value=f"{seconds / 60:.0f}")


def help_text(settings: Settings, max_upload_mb: float | None = None, language: str = "en") -> str:
    _ = translator(language).gettext
    upload_mb = min(settings.max_upload_mb, max_upload_mb or settings.max_upload_mb)
    return "\n".join(
        [
            _(
                "Rap Simulator: send me a voice note of yourself rapping (or an audio file) and "
                "I'll tell you which artists you sound like, why, and what to try."
            ),
            "",
            _("/artists: the artists I know"),
            _("/compare: how alike two members sound (from their latest notes)"),
            _(
                "/target <artist>: the artist you practise toward, or a timing goal: "
                "/target tight [ms] or /target pocket <ms> (/target clear to stop)"
            ),
            _("/progress: a chart of your takes against your target"),
            _("/leaderboard <artist>: who here came closest this week (/share on to join)"),
            _(
                "/cypher start, /cypher stop: a round of verses in a group: everyone's voice "
                "notes, then a summary"
            ),
            _("/forget: delete everything I keep about you"),
            "",
            _("Files up to {mb} MB and {seconds} s; I analyse the best 30 seconds.").format(
                mb=f"{upload_mb:g}", seconds=f"{settings.max_note_seconds:.0f}"
            ),
            _(
                "Privacy: I never keep audio. I keep a voice fingerprint, style numbers and a "
                "small spectrogram of your last {count} notes for {days} days, for /compare, "
                "and a small row of numbers per take for {history} days, for /progress. "
                "/forget deletes them."
            ).format(
                count=settings.profiles_per_member,
                days=f"{settings.retention_days:g}",
                history=f"{settings.history_days:g}",
            ),
        ]
    )
