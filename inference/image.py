"""Spectrogram images: the uint8 log-mel arrays we store, and the PNGs members see.

``mel_image`` turns 16 kHz audio into a small uint8 log-mel array on a fixed absolute
scale, so that any two stored arrays (a member's, an artist's) can be drawn side by side
with one colour scale. ``render_analysis`` and ``render_comparison`` draw those arrays and
style profiles into a portrait PNG, 1080 px wide, meant to be read on a phone.

Drawing is done with Pillow on a fixed pixel layout: text, bars and the colour-mapped
spectrograms are placed directly, and the result is quantised to a 256-colour PNG. A
matplotlib version of the same picture took ~135 ms, nearly all of it text layout and
PNG encoding; this one takes a few tens of ms. matplotlib is used only for its colormap
and its bundled DejaVu fonts (never pyplot).

This module does not decode, cut or analyse audio, and it does not choose which artist
to show: callers pass what to draw.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import librosa
import matplotlib
import numpy as np
import scipy.fft
import scipy.sparse
from PIL import Image, ImageDraw, ImageFont

from i18n import N_, quantity, translator

from . import image_fonts as fonts
from .constants import (
    ANALYSIS_WINDOW_SECONDS,
    IMAGE_DB_RANGE,
    IMAGE_FRAMES,
    IMAGE_HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
)
from .resemblance import artist_words, pair_words
from .style_text import style_label, style_value
from .types import STYLE_DISPLAY, Match, StyleProfile

__all__ = ["TargetView", "mel_image", "render_analysis", "render_comparison", "warmup"]

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- mel arrays


@functools.lru_cache(maxsize=1)
def _mel_setup() -> tuple[np.ndarray, scipy.sparse.csr_array, float]:
    """Window, mel filterbank (N_MELS, N_FFT//2+1) and the 0 dB reference power.

    Filters are unnormalised triangles (peak weight 1), so a pure tone at a band centre
    reads as the power of its FFT bin. The reference is the bin power of a full-scale
    sine under the Hann window, ``(sum(window) / 2) ** 2``: a 0 dBFS sine maps to about
    255 (tones between band centres read a few dB lower), and anything
    ``IMAGE_DB_RANGE`` dB below maps to 0.

    The filterbank is kept sparse (each FFT bin feeds at most two bands): a dense BLAS
    matmul of this size took ~30 ms on a busy 2-core machine (thread contention), the
    sparse product ~0.3 ms.
    """
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    basis = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=SAMPLE_RATE / 2, norm=None
    ).astype(np.float32)
    ref_power = float(window.sum() / 2.0) ** 2
    return window, scipy.sparse.csr_array(basis), ref_power


def mel_image(wav: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Log-mel spectrogram of ``wav`` as uint8, shape (N_MELS, frames), low bands first.

    ``wav`` is mono audio in [-1, 1] (integer PCM is rescaled); other rates are resampled
    to SAMPLE_RATE. Frames are IMAGE_HOP_LENGTH apart (50 per second, centred); only the
    first IMAGE_FRAMES (30 s) are kept. Values are on a fixed absolute scale (see
    ``_mel_setup``): 255 is a full-scale sine, 0 is IMAGE_DB_RANGE dB below, or silence.
    """
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise ValueError(f"mel_image expects mono audio (1-D), got shape {wav.shape}")
    if np.issubdtype(wav.dtype, np.integer):
        wav = wav / float(np.iinfo(wav.dtype).max + 1)
    # Only the samples that reach the kept frames are resampled and transformed.
    wav = wav[: int(np.ceil(IMAGE_FRAMES * IMAGE_HOP_LENGTH * sr / SAMPLE_RATE))]
    wav = wav.astype(np.float32, copy=False)
    if sr != SAMPLE_RATE:
        wav = librosa.resample(wav, orig_sr=sr, target_sr=SAMPLE_RATE)
    if wav.size == 0:
        return np.zeros((N_MELS, 0), dtype=np.uint8)
    window, basis, ref_power = _mel_setup()
    padded = np.pad(wav[: IMAGE_FRAMES * IMAGE_HOP_LENGTH], N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::IMAGE_HOP_LENGTH]
    spectrum = scipy.fft.rfft(frames[:IMAGE_FRAMES] * window, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    db = 10.0 * np.log10(np.maximum(basis @ power.T, ref_power * 1e-12) / ref_power)
    scaled = (db + IMAGE_DB_RANGE) * (255.0 / IMAGE_DB_RANGE)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _fit_frames(mel: np.ndarray, width: int) -> np.ndarray:
    """Pad (with the floor, 0) or crop to IMAGE_FRAMES, then max-pool columns to ``width``.

    Max-pooling keeps short onsets visible where plain decimation would drop them.
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[0] != N_MELS:
        raise ValueError(f"expected a ({N_MELS}, frames) mel image, got shape {mel.shape}")
    if mel.dtype != np.uint8:
        mel = np.clip(np.nan_to_num(mel), 0, 255).astype(np.uint8)
    full = np.zeros((N_MELS, IMAGE_FRAMES), dtype=np.uint8)
    n = min(mel.shape[1], IMAGE_FRAMES)
    full[:, :n] = mel[:, :n]
    starts = (np.arange(width) * IMAGE_FRAMES) // width
    return np.maximum.reduceat(full, starts, axis=1)


# --------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class TargetView:
    """The member's target artist, as the analysis image shows it."""

    match: Match
    rank: int  # among all the catalogue's artists, 1 = closest
    artists: int  # how many artists the catalogue has


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


def _name(text: str) -> str:
    """A name for display: one line, characters no font here can draw (emoji) dropped;
    "" when nothing drawable is left."""
    text = " ".join(str(text)[:200].split())
    have = fonts.glyphs(False) | fonts.glyphs(True)
    return " ".join("".join(c for c in text if ord(c) in have).split())


def _fit(text: str, font: ImageFont.FreeTypeFont, max_px: float, keep: str = "") -> str:
    """``text + keep`` cut with an ellipsis (inside ``text``) to at most ``max_px`` wide."""
    if font.getlength(text + keep) <= max_px:
        return text + keep
    while text and font.getlength(text + "…" + keep) > max_px:
        text = text[:-1]
    return text.rstrip() + "…" + keep


def _score_text(score: float) -> str:
    return "n/a" if score != score else f"{float(np.clip(score, 0.0, 100.0)):.0f}/100"


class _Sheet:
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
        text = _fit(text, font, max_px, keep) if max_px is not None else text + keep
        self.draw.text(xy, text, fill=colour, font=font, anchor=anchor)

    def rect(self, x: float, y: float, w: float, h: float, colour: str) -> None:
        self.draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)

    def spectrogram(self, mel: np.ndarray, y: int) -> None:
        """``mel`` across the spectrogram columns, top edge at ``y``, low bands at the bottom."""
        pooled = _fit_frames(mel, SPEC_X1 - SPEC_X0)
        rgb = np.repeat(_colour_lut()[pooled[::-1]], SPEC_ROW_PX, axis=0)
        self.img.paste(Image.fromarray(rgb), (SPEC_X0, y))

    def png(self) -> bytes:
        # 256 colours hold the colormap and the flat UI colours well, and a paletted PNG
        # is ~3x smaller and faster to encode than RGB.
        small = self.img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", compress_level=3)
        return out.getvalue()


def _draw_spectrogram(s: _Sheet, y: int, mel: np.ndarray | None, title: str, colour: str) -> None:
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


def _draw_time_axis(s: _Sheet, y: int) -> None:
    """Second ticks 0..30 under a spectrogram whose bottom edge is at ``y``."""
    seconds = int(ANALYSIS_WINDOW_SECONDS)
    for sec in range(0, seconds + 1, TIME_TICK_SECONDS):
        px = SPEC_X0 + (SPEC_X1 - SPEC_X0 - 1) * sec / ANALYSIS_WINDOW_SECONDS
        s.draw.line((px, y, px, y + 8), fill=MUTED, width=2)
        last = sec == seconds
        label = quantity(sec, N_("{value} s"), s.language) if last else str(sec)
        anchor = "rt" if last else "mt"
        s.text((px + (2 if last else 0), y + 12), label, 22, MUTED, anchor=anchor)


def _draw_spectrograms(
    s: _Sheet, y: int, mels: Sequence[np.ndarray | None], titles: Sequence[str]
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


def _draw_styles(
    s: _Sheet, y: int, styles: Sequence[StyleProfile | None], labels: Sequence[str]
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


def _draw_scores(s: _Sheet, y: int, matches: Sequence[Match], target: str = "") -> int:
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
        name = f"{rank + 1}. {_name(m.artist) or '?'}"
        room = SCORE_X0 - MARGIN - 16
        s.text((MARGIN, y + 20), name, 28, FG if rank == 0 else MUTED, max_px=room, keep=tag)
        score = float(np.clip(np.nan_to_num(m.score), 0.0, 100.0))
        s.rect(SCORE_X0, y + 4, SCORE_X1 - SCORE_X0, 32, TRACK)
        s.rect(SCORE_X0, y + 4, max(score / 100 * (SCORE_X1 - SCORE_X0), 4), 32, colour)
        s.text((WIDTH - MARGIN, y + 20), f"{score:.0f}", 30, colour, bold=rank == 0, anchor="rm")
        y += SCORE_ROW_H
    return y


def _draw_header(
    s: _Sheet, intro: tuple[str, str], headline: tuple[str, str], caption: str = ""
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
) -> bytes:
    """PNG of one analysis: spectrograms, style profiles and the top-k scores.

    The member's spectrogram sits above the artist's on one colour scale and one 0..30 s
    axis: ``matches[0].artist``, or the member's ``target`` when one is given (the
    header then leads with it: score, rank in the catalogue, top match).
    ``artist_mel``/``artist_style`` are that artist's and may be None (drawn as
    missing). ``member_label`` "" is "You". Labels are in ``language`` (English when no
    font for it is installed). Returns PNG bytes, 1080 px wide; the height grows with
    ``len(matches)``.
    """
    start = time.perf_counter()
    language = fonts.image_language(language)
    rows = max(len(matches), 1)
    s = _Sheet(HEADER_H + SPECS_H + GAP + STYLES_H + GAP + 70 + rows * SCORE_ROW_H + 20, language)
    name = "" if member_label.strip().lower() == "you" else _name(member_label)
    focus = target.match if target else (matches[0] if matches else None)
    artist = (_name(focus.artist) or "?") if focus else s._("no match")
    label = name or s._("You")
    caption = _rank_caption(s, target) if target else _match_caption(s, focus)
    _draw_header(s, _intro(s, name, target is not None), _headline(s, focus), caption)
    y = _draw_spectrograms(s, HEADER_H, (member_mel, artist_mel), (label, artist))
    y = _draw_styles(s, y + GAP, (member_style, artist_style), (label, artist))
    _draw_scores(s, y + GAP, matches, target.match.artist if target else "")
    png = s.png()
    log.debug("analysis image: %d bytes in %.0f ms", len(png), _ms_since(start))
    return png


def _intro(s: _Sheet, name: str, has_target: bool) -> tuple[str, str]:
    """The muted first line, as (text to cut, suffix kept): the name is cut, not the verb."""
    half = (WIDTH - 2 * MARGIN) * 0.55
    cut = _fit(name, s.font(36, False, name), half) if name else ""
    if has_target:
        line = s._("{name}, practising toward").format(name=cut) if name else s._("Your target")
    else:
        line = (
            s._("{name} sounds most like").format(name=cut) if name else s._("You sound most like")
        )
    return line, ""


def _headline(s: _Sheet, focus: Match | None) -> tuple[str, str]:
    if focus is None:
        return s._("No catalogue match"), ""
    return _name(focus.artist) or "?", f" · {_score_text(focus.score)}"


def _rank_caption(s: _Sheet, target: TargetView) -> str:
    return s._("Your #{rank} closest of {count} artists").format(
        rank=target.rank, count=target.artists
    )


def _match_caption(s: _Sheet, top: Match | None) -> str:
    if top is None:
        return ""
    if top.maybe_self:
        return s._("This may be {artist} themself (identity {identity}/100)").format(
            artist=_name(top.artist), identity=f"{top.identity:.0f}"
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
    s = _Sheet(HEADER_H + SPECS_H + GAP + STYLES_H + 20, fonts.image_language(language))
    # Both names fit on the intro line: each gets at most half of it.
    half = (WIDTH - 2 * MARGIN) / 2 - 40
    label_a, label_b = _name(label_a) or "A", _name(label_b) or "B"
    cut_a, cut_b = (_fit(n, s.font(36, False, n), half) for n in (label_a, label_b))
    intro = s._("{a} vs {b}").format(a=cut_a, b=cut_b)
    words = pair_words(score, s.language)
    caption = s._("This may be the same person") if same_voice else words[:1].upper() + words[1:]
    _draw_header(s, (intro, ""), (s._("Alike"), f" · {_score_text(score)}"), caption)
    y = _draw_spectrograms(s, HEADER_H, (mel_a, mel_b), (label_a, label_b))
    _draw_styles(s, y + GAP, (style_a, style_b), (label_a, label_b))
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
