"""Making a catalogue: clips cut into windows and embedded in parallel, resumable worker
processes (``jobs``), augmented copies of each window (``augment``), then the matching
space and score scales fitted and the folder written (``builder``).

It runs the same pipeline as a member's note; it serves no requests.
"""
