"""Style features in a member's language: their names, their values with units, and the
description of each feature that the bot receives to draw progress charts.

The English output is exactly ``types.format_style_value`` and ``STYLE_DISPLAY``'s
labels (a test keeps them equal); other languages come from the i18n catalogue, with
numbers written by Babel. It measures nothing (``inference.style`` does).
"""

from __future__ import annotations

import math

from i18n import N_, quantity, say

from ..types import STYLE_DISPLAY, hz_to_note

# STYLE_DISPLAY's labels, marked here for the catalogue (types.py holds no i18n).
LABELS = (
    N_("Tempo"),
    N_("Flow (syllable rate)"),
    N_("Pitch"),
    N_("Pitch range"),
    N_("Energy"),
    N_("Dynamics"),
    N_("Brightness (tone)"),
    N_("Pauses"),
)
# Per feature: the unit's template (a message id) and the decimals shown.
UNITS: dict[str, tuple[str, int]] = {
    "tempo_bpm": (N_("{value} BPM"), 0),
    "syllable_rate": (N_("{value} syll/s"), 1),
    "pitch_median_hz": (N_("{value} Hz"), 0),
    "pitch_range_semitones": (N_("{value} st"), 1),
    "energy_db": (N_("{value} dBFS"), 0),
    "energy_dynamics_db": (N_("{value} dB"), 0),
    "brightness_hz": (N_("{value} Hz"), 0),
    "pause_ratio": ("{value}", 0),
}
PERCENT = frozenset({"pause_ratio"})  # fractions, shown as percentages


def style_label(name: str, language: str) -> str:
    """'Flow (syllable rate)' in ``language``."""
    return say(STYLE_DISPLAY[name][0], language)


def style_value(name: str, value: float, language: str) -> str:
    """A feature's value as people of ``language`` read it ('148 Hz (D3)'; 'n/a' for nan)."""
    template, digits = UNITS[name]
    text = quantity(value, template, language, digits, as_percent=name in PERCENT)
    if name == "pitch_median_hz" and math.isfinite(value) and value > 0:
        text += f" ({hz_to_note(value)})"
    return text
