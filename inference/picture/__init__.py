"""The images members see: mel arrays on one fixed scale (``mel``), the drawing kit and
its shared sections (``sheet``), the analysis and comparison pictures (``image``), the
fonts for every language (``fonts``).

It draws what it is given: it analyses no audio and chooses no artist.
"""
