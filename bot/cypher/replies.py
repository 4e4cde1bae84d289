"""Every sentence of a cypher round: the start notice, refusals, the busy notice and the
summary, in the language of whoever asked (English message ids, the i18n catalogue).

Plain text, the same on every platform; a platform adds only what is its own (Discord's
hint to mention the bot). It formats the figures of ``bot.cypher.rounds.Summary`` and
decides nothing.
"""

from __future__ import annotations

import math

from i18n import N_, number, translator

from .rounds import MemberLine, Summary

ALREADY = N_("A cypher round is already running here. /cypher stop ends it with the summary.")
NO_ROUND = N_("No cypher round is running here. /cypher start opens one.")
GROUP_ONLY = N_("A cypher round runs in a group or a server channel: start one there.")
USAGE = N_(
    "/cypher start opens a round of verses in this chat; /cypher stop ends it with the summary."
)
# ---- a cypher in a Discord voice channel (bot.discord_bot.cogs.voice_cypher) ---------------
NO_VOICE = N_(
    "I can't join voice channels on this server's bot ({why}). A round of voice notes works "
    "here: /cypher start voice:False"
)
NOT_IN_VOICE = N_("Join a voice channel first, then /cypher start voice:True from there.")
VOICE_TAKEN = N_("A cypher is already running in {channel}: /cypher stop there ends it.")
JOIN_FAILED = N_(
    "I couldn't join {channel} (do I have the Connect permission there?). Try again, or run a "
    "round of voice notes: /cypher start voice:False"
)
JOIN_LABEL = N_("Hear my verses")
LEAVE_LABEL = N_("Stop hearing me")
JOINED = N_(
    "You're in: each verse you rap in the voice channel gets a card. Pause {silence} s to end "
    "a verse."
)
LEFT = N_("You're out: I no longer hear you.")
ENDED = N_("This cypher has ended.")
VERSE_HEAD = N_("🎤 {name}'s verse ({seconds} s):")
LEFT_EMPTY = N_("Everyone left {channel}, so I left too.")
LEFT_KICKED = N_("I was taken out of {channel}.")
LEFT_QUIET = N_("The round ended after a long quiet, so I left {channel}.")


def voice_started(channel: str, silence_s: float, quiet_s: float, language: str = "en") -> str:
    """The notice of a cypher in a voice channel, above the opt-in buttons."""
    _ = translator(language).gettext
    return "\n".join(
        [
            _("🔴 Cypher in {channel}: I'm listening.").format(channel=channel),
            _(
                "Press 🎤 Hear my verses to be heard: I hear only members who press it. Each "
                "verse you rap (it ends when you pause {silence} s) gets a card here: your "
                "matches, your target, your timing."
            ).format(silence=f"{silence_s:.0f}"),
            _(
                "/cypher stop ends the cypher with the summary; so does everyone leaving the "
                "channel, or {minutes} min without a verse."
            ).format(minutes=f"{quiet_s / 60:.0f}"),
            _(
                "Nothing is recorded: your audio stays in memory until its card, and each "
                "verse goes into your practice history as one row of numbers; /forget "
                "deletes it."
            ),
        ]
    )


BUSY = N_(
    "Lots of verses at once: the analysis is busy. Every verse waits its turn (one per "
    "member at a time, everyone's first before anyone's second) and gets its answer."
)


def started(quiet_s: float, language: str = "en") -> str:
    """The notice a round opens with: how to join (send a note), how it ends, privacy."""
    _ = translator(language).gettext
    return "\n".join(
        [
            _(
                "Cypher round open! Send your verses here as voice notes: each one is answered "
                "like any note (your matches, your target, your timing)."
            ),
            _(
                "Sending a note during the round is how you join it: only members who send "
                "one appear in the summary."
            ),
            _(
                "/cypher stop ends the round with the summary (verses, who rode the beat "
                "tightest, who came closest to their target); it also ends by itself after "
                "{minutes} min without a verse."
            ).format(minutes=f"{quiet_s / 60:.0f}"),
            _(
                "No audio is kept: each verse goes into your practice history as one row of "
                "numbers, like any note; /forget deletes it."
            ),
        ]
    )


def summary(s: Summary, language: str = "en", *, quiet_s: float | None = None) -> str:
    """The round's summary; ``quiet_s``: it ended by itself after that long without a verse."""
    tr = translator(language)
    _ = tr.gettext
    if quiet_s is not None:
        head = _("Cypher round over after {quiet} min without a verse").format(
            quiet=f"{quiet_s / 60:.0f}"
        )
    else:
        head = _("Cypher round over")
    if not s.members:
        return _("{head}: nobody sent a verse.").format(head=head)
    verses = tr.ngettext("{n} verse", "{n} verses", s.verses).format(n=s.verses)
    members = tr.ngettext("{n} member", "{n} members", len(s.members)).format(n=len(s.members))
    minutes = max(1, round(s.minutes))
    lines = [
        _("{head}: {verses} from {members} in {minutes} min.").format(
            head=head, verses=verses, members=members, minutes=minutes
        )
    ]
    for m in s.members:
        count = tr.ngettext("{n} verse", "{n} verses", m.verses).format(n=m.verses)
        lines.append(_("- {name}: {verses}").format(name=m.name, verses=count))
    lines.append(_tightest(s.tightest, language))
    lines.append(_closest(s.closest, language))
    lines.append(_("Each verse is in its member's practice history; /forget deletes yours."))
    return "\n".join(lines)


def _tightest(m: MemberLine | None, language: str) -> str:
    _ = translator(language).gettext
    if m is None:
        return _("Tightest: nobody's timing could be placed (too few clear syllables).")
    ms = number(m.tightness_ms, language)
    if m.grid == "beat":
        return _("Rode the beat tightest: {name}, {ms} ms spread.").format(name=m.name, ms=ms)
    return _("Rode the beat tightest: {name}, {ms} ms spread on their own pulse (no beat).").format(
        name=m.name, ms=ms
    )


def _closest(m: MemberLine | None, language: str) -> str:
    _ = translator(language).gettext
    if m is None or not math.isfinite(m.reach):
        return _("Closest to their target: nobody had an artist target (/target <artist>).")
    return _("Closest to their target: {name}, reach {reach} toward {artist}.").format(
        name=m.name, reach=f"{m.reach:.0f}", artist=m.target
    )
