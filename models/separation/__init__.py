"""Training of the voice separator that ``inference.audio.separate`` runs.

``data`` makes training mixes on the fly from pre-loaded arrays: clean TTS voices (an
identity split keeps a third of the voices for validation) over numpy beats
(``inference.audio.beats``, rendered part by part so that any subset can be mixed), with
their targets: the clean voice and a per-frame voice-activity label. ``train`` is the loop
and the command line that writes the shipped weights.

Not here: the runtime net and its file format (``inference.audio.separate``), and the
benchmark (``bench.separation``), which also mixes the General-MIDI beats this package must
never train on.
"""
