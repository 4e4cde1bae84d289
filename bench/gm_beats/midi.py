"""Composed notes as MIDI: events per part and a type-1 file (with ``mido``).

``_events`` turns one part's ``_Note`` list into timed messages (a note never outlasts the
next strike of its pitch; bass slides become pitch-bend ramps); ``_midi_file`` writes the
tempo, the time signature and one track per part with its program, volume, reverb and
chorus sends (and, for the bass, the pitch-bend range).

Deliberately not here: choosing the notes (``compose``), playing the file with fluidsynth,
mixing or caching (``render``).
"""

from __future__ import annotations

import itertools

import mido
import numpy as np

from .compose import _Note
from .styles import BEATS_PER_BAR, BEND_RANGE, CHANNELS, GLIDE_SECONDS, SENDS, TICKS_PER_BEAT


def _events(notes: list[_Note], channel: int, bpm: float) -> list[tuple[int, int, mido.Message]]:
    """(tick, order, message) for one part; bass slides become pitch-bend ramps."""

    def tick(beat: float) -> int:
        return max(0, round(beat * TICKS_PER_BEAT))

    groups: list[list[_Note]] = []
    for n in sorted(notes, key=lambda n: n.beat):
        last = groups[-1][-1] if groups else None
        if (
            n.slide
            and last is not None
            and abs(n.pitch - groups[-1][0].pitch) <= BEND_RANGE
            and last.beat + last.dur >= n.beat - 1e-6
        ):
            groups[-1].append(n)
        else:
            groups.append([n])
    # one struck note per group: (start, end, pitch, velocity)
    struck = [(tick(g[0].beat), tick(g[-1].beat + g[-1].dur), g[0].pitch, g[0].vel) for g in groups]
    # a note never outlasts the next strike of its pitch (its note-off would cut that one)
    next_start: dict[int, int] = {}
    trimmed: list[tuple[int, int, int, int]] = []
    for start, end, pitch, vel in sorted(struck, key=lambda s: -s[0]):
        end = min(end, next_start.get(pitch, end))
        trimmed.append((start, max(end, start + 1), pitch, vel))
        next_start[pitch] = start
    out: list[tuple[int, int, mido.Message]] = []
    for start, end, pitch, vel in trimmed:
        out.append((start, 2, mido.Message("note_on", channel=channel, note=pitch, velocity=vel)))
        out.append((end, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))

    def bend(semitones: float) -> int:
        return int(np.clip(round(semitones / BEND_RANGE * 8192), -8192, 8191))

    glide_beats = GLIDE_SECONDS * bpm / 60
    for g in groups:
        if len(g) == 1:
            continue
        for prev, n in itertools.pairwise(g):
            a, b = prev.pitch - g[0].pitch, n.pitch - g[0].pitch
            span = min(glide_beats, n.dur / 2)
            for k in range(1, 9):
                value = bend(a + (b - a) * k / 8)
                msg = mido.Message("pitchwheel", channel=channel, pitch=value)
                out.append((tick(n.beat + span * (k - 1) / 8), 1, msg))
        end = tick(g[-1].beat + g[-1].dur)
        out.append((end, 1, mido.Message("pitchwheel", channel=channel, pitch=0)))
    return out


def _midi_file(
    parts: dict[str, list[_Note]], programs: dict[str, int], bpm: float, bars: int
) -> mido.MidiFile:
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    song_end = bars * BEATS_PER_BAR * TICKS_PER_BEAT
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    meta.append(mido.MetaMessage("end_of_track", time=song_end))
    mid.tracks.append(meta)
    for part, notes in parts.items():
        ch = CHANNELS[part]
        reverb, chorus = SENDS[part]
        setup = [
            mido.Message("program_change", channel=ch, program=programs[part]),
            mido.Message("control_change", channel=ch, control=7, value=100),
            mido.Message("control_change", channel=ch, control=91, value=reverb),
            mido.Message("control_change", channel=ch, control=93, value=chorus),
        ]
        if part == "bass":  # RPN 0: pitch-bend range BEND_RANGE semitones
            for control, value in (
                (101, 0),
                (100, 0),
                (6, BEND_RANGE),
                (38, 0),
                (101, 127),
                (100, 127),
            ):
                setup.append(
                    mido.Message("control_change", channel=ch, control=control, value=value)
                )
        events = sorted(_events(notes, ch, bpm), key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack(setup)
        now = 0
        for t, _, msg in events:
            track.append(msg.copy(time=t - now))
            now = t
        track.append(mido.MetaMessage("end_of_track", time=max(0, song_end - now)))
        mid.tracks.append(track)
    return mid
