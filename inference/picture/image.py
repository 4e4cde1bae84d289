"""The PNGs members see: ``render_analysis`` (a note against its closest artist or the
member's target) and ``render_comparison`` (two members), portrait, 1080 px wide, meant
to be read on a phone; ``warmup`` renders both once.

They are composed from the sections of ``sheet`` on the uint8 log-mel arrays of ``mel``
(``mel_image`` is re-exported here for callers that draw). Drawn with Pillow and
quantised to 256 colours: a few tens of ms, where a matplotlib version took ~135 ms.

This module does not decode, cut or analyse audio, and it does not choose which artist
to show: callers pass what to draw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog.resemblance import artist_words, pair_words
from ..constants import SAMPLE_RATE
from ..types import Match, Rhythm, StyleProfile
from . import fonts
from .mel import mel_image
from .rhythm import draw_rhythm, rhythm_height
from .sheet import (
    GAP,
    HEADER_H,
    MARGIN,
    SCORE_ROW_H,
    SPECS_H,
    STYLES_H,
    WIDTH,
    Sheet,
    display_name,
    draw_header,
    draw_scores,
    draw_spectrograms,
    draw_styles,
    fit_text,
    score_text,
)

__all__ = ["TargetView", "mel_image", "render_analysis", "render_comparison", "warmup"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetView:
    """The member's target artist, as the analysis image shows it."""

    match: Match
    rank: int  # among all the catalogue's artists, 1 = closest
    artists: int  # how many artists the catalogue has


def render_analysis(
    member_mel: np.ndarray,
    member_style: StyleProfile,
    matches: Sequence[Match],
    artist_mel: np.ndarray | None,
    artist_style: StyleProfile | None,
    *,
    member_label: str = "",
    language: str = "en",
    target: TargetView | None = None,
    rhythm: Rhythm | None = None,
) -> bytes:
    """PNG of one analysis: spectrograms, style profiles, the note's timing and the
    top-k scores.

    The member's spectrogram sits above the artist's on one colour scale and one 0..30 s
    axis: ``matches[0].artist``, or the member's ``target`` when one is given (the
    header then leads with it: score, rank in the catalogue, top match).
    ``artist_mel``/``artist_style`` are that artist's and may be None (drawn as
    missing). ``member_label`` "" is "You". Labels are in ``language`` (English when no
    font for it is installed). ``rhythm``, when given with syllables, adds its section
    (``rhythm.draw_rhythm``) below the style bars; None draws the image without it.
    Returns PNG bytes, 1080 px wide; the height grows with ``len(matches)`` and the
    rhythm's bars.
    """
    start = time.perf_counter()
    language = fonts.image_language(language)
    rows = max(len(matches), 1)
    timing_h = rhythm_height(rhythm)
    extra = GAP + timing_h if timing_h else 0
    height = HEADER_H + SPECS_H + GAP + STYLES_H + GAP + 70 + rows * SCORE_ROW_H + 20
    s = Sheet(height + extra, language)
    name = "" if member_label.strip().lower() == "you" else display_name(member_label)
    focus = target.match if target else (matches[0] if matches else None)
    artist = (display_name(focus.artist) or "?") if focus else s._("no match")
    label = name or s._("You")
    caption = _rank_caption(s, target) if target else _match_caption(s, focus)
    draw_header(s, _intro(s, name, target is not None), _headline(s, focus), caption)
    y = draw_spectrograms(s, HEADER_H, (member_mel, artist_mel), (label, artist))
    y = draw_styles(s, y + GAP, (member_style, artist_style), (label, artist))
    if rhythm is not None and timing_h:
        y = draw_rhythm(s, y + GAP, rhythm)
    draw_scores(s, y + GAP, matches, target.match.artist if target else "")
    png = s.png()
    log.debug("analysis image: %d bytes in %.0f ms", len(png), _ms_since(start))
    return png


def _intro(s: Sheet, name: str, has_target: bool) -> tuple[str, str]:
    """The muted first line, as (text to cut, suffix kept): the name is cut, not the verb."""
    half = (WIDTH - 2 * MARGIN) * 0.55
    cut = fit_text(name, s.font(36, False, name), half) if name else ""
    if has_target:
        line = s._("{name}, practising toward").format(name=cut) if name else s._("Your target")
    else:
        line = (
            s._("{name} sounds most like").format(name=cut) if name else s._("You sound most like")
        )
    return line, ""


def _headline(s: Sheet, focus: Match | None) -> tuple[str, str]:
    if focus is None:
        return s._("No catalogue match"), ""
    return display_name(focus.artist) or "?", f" · {score_text(focus.score)}"


def _rank_caption(s: Sheet, target: TargetView) -> str:
    return s._("Your #{rank} closest of {count} artists").format(
        rank=target.rank, count=target.artists
    )


def _match_caption(s: Sheet, top: Match | None) -> str:
    if top is None:
        return ""
    if top.maybe_self:
        return s._("This may be {artist} themself (identity {identity}/100)").format(
            artist=display_name(top.artist), identity=f"{top.identity:.0f}"
        )
    return s._("Resemblance: {words}").format(words=artist_words(top.score, s.language))


def render_comparison(
    label_a: str,
    mel_a: np.ndarray,
    style_a: StyleProfile,
    label_b: str,
    mel_b: np.ndarray,
    style_b: StyleProfile,
    score: float,
    *,
    same_voice: bool = False,
    language: str = "en",
) -> bytes:
    """PNG comparing two recordings: both spectrograms, both style profiles, the score."""
    start = time.perf_counter()
    s = Sheet(HEADER_H + SPECS_H + GAP + STYLES_H + 20, fonts.image_language(language))
    # Both names fit on the intro line: each gets at most half of it.
    half = (WIDTH - 2 * MARGIN) / 2 - 40
    label_a, label_b = display_name(label_a) or "A", display_name(label_b) or "B"
    cut_a, cut_b = (fit_text(n, s.font(36, False, n), half) for n in (label_a, label_b))
    intro = s._("{a} vs {b}").format(a=cut_a, b=cut_b)
    words = pair_words(score, s.language)
    caption = s._("This may be the same person") if same_voice else words[:1].upper() + words[1:]
    draw_header(s, (intro, ""), (s._("Alike"), f" · {score_text(score)}"), caption)
    y = draw_spectrograms(s, HEADER_H, (mel_a, mel_b), (label_a, label_b))
    draw_styles(s, y + GAP, (style_a, style_b), (label_a, label_b))
    png = s.png()
    log.debug("comparison image: %d bytes in %.0f ms", len(png), _ms_since(start))
    return png


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def warmup() -> None:
    """Build the mel filterbank, load fonts and the colormap, and render both images once."""
    start = time.perf_counter()
    mel = mel_image(np.zeros(SAMPLE_RATE, dtype=np.float32))
    style = StyleProfile(*([float("nan")] * len(StyleProfile.feature_names())))
    for language in ("en", "ko"):  # the Hangul font too, when it is installed
        render_analysis(mel, style, [Match("warmup", 50.0, 0.5)], None, None, language=language)
    render_comparison("a", mel, style, "b", mel, style, 50.0)
    log.info("image rendering warmed up in %.0f ms", _ms_since(start))
