"""Audio in: bytes or a file decoded to 16 kHz mono float32 (``decode``), then made
ready for analysis (``prepare``): the level normalised, the voice found (a beat or noise
alone is refused), the best window kept, silence cut.

When something plays under the voice, ``isolate`` has the voice isolated from the beat
by the separator (``separate``: a small network shipped in ``separator/``) and refuses a
beat alone. ``beats`` synthesises beats with pitched parts (808, chords, melody, drums)
for catalogue augmentation and tests.

It knows no encoder and no catalogue: what comes out is audio and the voiced regions.
"""
