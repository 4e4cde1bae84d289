"""Audio in: bytes or a file decoded to 16 kHz mono float32 (``decode``), then made
ready for analysis (``prepare``): the level normalised, the voice found (a beat or noise
alone is refused), the best window kept, silence cut.

It knows no model and no catalogue: what comes out is audio and the voiced regions.
"""
