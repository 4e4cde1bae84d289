"""The training kit's error type.

``HeadError`` covers every failure to load, use or train a head that is not a programming
mistake: a checkpoint that is damaged, foreign, or trained on another encoder's embeddings,
embeddings of the wrong width, or training data too thin to split and train on. Invalid
options (a bad ``HeadConfig``) are ``ValueError``: they are the caller's mistake, caught
before any work starts.
"""

from __future__ import annotations

from inference import RapsimError


class HeadError(RapsimError):
    """A head checkpoint or its training data cannot be used (message says why, in a line)."""
