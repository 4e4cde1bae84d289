"""Project error types. Each message is written for the person who sent the audio.

One class per failure kind, so that the CLI and the bots can answer each kind plainly
without parsing messages. Every class derives from :class:`RapsimError`.
"""

from __future__ import annotations


class RapsimError(Exception):
    """Base class: a failure whose message can be shown to a user as it is."""


class AudioDecodeError(RapsimError):
    """The input is not audio we can read (empty, truncated, not audio, unsupported)."""


class AudioTooShortError(RapsimError):
    """The input is readable audio but too short to analyse."""


class NoVoiceError(RapsimError):
    """The input holds no (or too little) rapping voice: silence, a beat alone, noise."""


class BeatWithoutVoiceError(NoVoiceError):
    """A beat (music, drums) plays but no voice raps over it: the instrumental alone."""


class CatalogError(RapsimError):
    """A catalogue is missing, damaged, or does not fit the encoder in use."""


class EncoderError(RapsimError):
    """An encoder could not be loaded or used (missing weights, bad folder, bad spec)."""
