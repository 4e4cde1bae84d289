"""The images members see: mel arrays on one fixed scale (``mel``), the drawing kit and
its shared sections (``sheet``), a note's timing on its 16th-note grid (``rhythm``), the
analysis and comparison pictures (``image``), the fonts for every language (``fonts``).

It draws what it is given: it analyses no audio and chooses no artist.
"""
