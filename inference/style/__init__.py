"""How a note is delivered, as numbers and words: tempo, syllable rate, pitch, energy,
brightness, pauses (``features``), and their labels and values in the member's language
(``words``).

It measures audio it is given; it does not find the voice or compare with artists.
"""
