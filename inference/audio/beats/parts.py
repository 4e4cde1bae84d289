"""The five parts of ``beats``, each a ``Groove``'s score played with ``sounds``.

``drums``, ``bass_808``, ``chord_pad``, ``melody`` and ``lead`` take the same groove and a
generator and return a float32 track of the groove's length, unnormalised (``beats``
levels and mixes them). Drum hits and repeated notes are rendered once and copied.
"""

from __future__ import annotations

import numpy as np

from . import sounds as snd
from .score import (
    BASS_MIDI,
    Groove,
    Note,
    Seed,
    bass_notes,
    generator,
    hat_events,
    lead_phrases,
    motif,
    pattern_events,
    pick,
    uniform,
)

HAT_GAIN = 0.6  # linear: hat peak relative to the kick's
BASS_GLIDE_S = (0.06, 0.14)  # s: length of an 808 glide, drawn per note
BASS_RELEASE_S = 0.02  # s: fade at the end of an 808 note
PAD_DETUNE_CENTS = (4.0, 12.0)  # cents: spread of the two saws of a pad voice, per beat
PAD_LOWPASS_HZ = (1000.0, 2200.0)  # Hz: low-pass of the pad, drawn per beat
PAD_ATTACK_S = (0.03, 0.25)  # s: pad attack, drawn per beat
PAD_RELEASE_S = 0.08  # s: each chord overlaps the next by this cross-fade
MELODY_DECAY_S = (0.6, 1.4)  # s: time to -60 dB of a melody note, drawn per beat
MELODY_EDGES_S = (0.001, 0.02)  # s: fade in and out of a melody note
LEAD_VIBRATO_HZ = (4.5, 6.5)  # Hz: vibrato rate, drawn per beat
LEAD_VIBRATO_CENTS = (20.0, 60.0)  # cents: vibrato depth, drawn per beat
LEAD_VIBRATO_DELAY_S = 0.15  # s: vibrato fades in over this after each note onset
LEAD_GLIDE_S = 0.03  # s: portamento between legato lead notes
LEAD_DRIFT_CENTS = 12.0  # cents: std of the slow random pitch drift
LEAD_DRIFT_STEP_S = 0.25  # s: the drift is a random value every this, linearly joined
LEAD_EDGES_S = (0.04, 0.1)  # s: attack and release of a lead phrase


def drums(groove: Groove, rng: Seed = None) -> np.ndarray:
    """Kick (pitch sweep), snare (tone + noise, a clap on top in trap and drill), closed and
    open hats and hat rolls, on the groove's patterns, humanised in boombap and lofi."""
    spec, gen, sr = groove.spec, generator(rng), groove.sr
    hits = {
        "kick": snd.kick(sr, gen),
        "snare": snd.snare(sr, gen, spec.clap),
        "hat": HAT_GAIN * snd.hat(sr, gen, "hat"),
        "open_hat": HAT_GAIN * snd.hat(sr, gen, "open_hat"),
    }
    events = (
        pattern_events(groove.kick, "kick", groove.n_beats)
        + pattern_events(groove.snare, "snare", groove.n_beats)
        + hat_events(spec, groove.n_beats, gen)
    )
    jitter = spec.humanise_s * sr
    out = np.zeros(groove.n_samples)
    for beats, name, velocity in events:
        shift = round(gen.normal(0.0, jitter)) if jitter else 0
        snd.place(out, hits[name], groove.at(beats) + shift, velocity)
    if spec.drum_lowpass_hz is not None:
        out = snd.sosfilt(snd.butter("lowpass", spec.drum_lowpass_hz, sr), out)
    return out.astype(np.float32)


def _bass_spans(groove: Groove, rng: np.random.Generator) -> list[tuple[int, int, float, bool]]:
    """(first sample, end sample, Hz, legato) of each 808 note; a glide is legato only when
    it starts where the previous note ends."""
    spans: list[tuple[int, int, float, bool]] = []
    for (start, length, midi), glide in bass_notes(groove, rng):
        s0, s1 = groove.at(start), min(groove.at(start + length), groove.n_samples)
        if s0 < s1:
            spans.append((s0, s1, snd.hz(midi), glide and bool(spans) and spans[-1][1] == s0))
    return spans


def bass_808(groove: Groove, rng: Seed = None) -> np.ndarray:
    """An 808 on the kick pattern and the chord roots: a sine with a short pitch punch, long
    decay, glides between legato notes, soft tanh saturation; fundamentals 36.7-77.8 Hz,
    odd harmonics from 110 Hz up (3rd at -10 dB at full level)."""
    decay_s, gen, sr = groove.spec.bass_decay_s, generator(rng), groove.sr
    freq = np.full(groove.n_samples, snd.hz(BASS_MIDI[0]))
    env = np.zeros(groove.n_samples)
    spans = _bass_spans(groove, gen)
    prev_hz, level = float(freq[0]), 0.0
    for i, (s0, s1, f_hz, legato) in enumerate(spans):
        glide_s = uniform(gen, BASS_GLIDE_S)
        f, e = (
            snd.bass_glide(prev_hz, f_hz, level, s1 - s0, sr, decay_s, glide_s)
            if legato
            else snd.bass_hit(f_hz, s1 - s0, sr, decay_s)
        )
        freq[s0:s1], env[s0:s1] = f, e
        prev_hz, level = f_hz, float(e[-1])
        if i + 1 == len(spans) or not spans[i + 1][3]:  # the next note does not glide on
            release = min(int(BASS_RELEASE_S * sr), s1 - s0)
            env[s1 - release : s1] *= np.linspace(1.0, 0.0, release)
    return snd.saturated_sine(freq, env, sr).astype(np.float32)


def chord_pad(groove: Groove, rng: Seed = None, timbre: str | None = None) -> np.ndarray:
    """The progression as sustained 3-4 note chords (130.8-493.9 Hz): detuned band-limited
    saws, an additive organ or an FM electric piano ("saw", "organ", "keys"), low-passed at
    1-2.2 kHz, each chord cross-faded into the next."""
    spec, gen, sr = groove.spec, generator(rng), groove.sr
    kind = pick(gen, spec.chord_timbres) if timbre is None else timbre
    if kind not in ("saw", "organ", "keys"):
        raise ValueError(f"unknown chord timbre {kind!r}")
    detune, attack = uniform(gen, PAD_DETUNE_CENTS), uniform(gen, PAD_ATTACK_S)
    cutoff = uniform(gen, PAD_LOWPASS_HZ)
    out = np.zeros(groove.n_samples)
    cache: dict[tuple[tuple[int, ...], int], np.ndarray] = {}
    for start in range(0, groove.n_beats, groove.beats_per_chord):
        notes = groove.chord_at(start)
        s0 = groove.at(start)
        n = groove.at(start + groove.beats_per_chord) - s0 + int(PAD_RELEASE_S * sr)
        if (notes, n) not in cache:
            voices = (snd.pad_voice(snd.hz(m), n, sr, detune, kind) for m in notes)
            chord = sum(voices, np.zeros(n)) / len(notes)
            cache[notes, n] = snd.edges(chord, sr, attack, PAD_RELEASE_S)
        snd.place(out, cache[notes, n], s0)
    return snd.sosfilt(snd.butter("lowpass", cutoff, sr), out).astype(np.float32)


def melody(groove: Groove, rng: Seed = None, timbre: str | None = None) -> np.ndarray:
    """A repeated scale motif of Karplus-Strong plucks or FM bells ("pluck", "bell"), f0 in
    207.7-659.3 Hz."""
    spec, gen, sr = groove.spec, generator(rng), groove.sr
    kind = pick(gen, spec.melody_timbres) if timbre is None else timbre
    if kind not in ("pluck", "bell"):
        raise ValueError(f"unknown melody timbre {kind!r}")
    decay_s = uniform(gen, MELODY_DECAY_S)
    out = np.zeros(groove.n_samples)
    cache: dict[tuple[int, int], np.ndarray] = {}
    for start, length, midi in motif(groove, gen):
        s0 = groove.at(start)
        n = groove.at(start + length) - s0
        if (midi, n) not in cache:
            f_hz = snd.hz(midi)
            tone = (
                snd.pluck(f_hz, n, sr, decay_s, gen)
                if kind == "pluck"
                else snd.bell(f_hz, n, sr, decay_s)
            )
            cache[midi, n] = snd.edges(tone, sr, *MELODY_EDGES_S)
        snd.place(out, cache[midi, n], s0)
    return out.astype(np.float32)


def _lead_pitch(
    groove: Groove, phrase: list[Note], p0: int, m: int, vibrato: tuple[float, float]
) -> np.ndarray:
    """MIDI pitch (fractional) of one phrase, ``m`` samples from ``p0``: the notes, joined by
    LEAD_GLIDE_S portamento, each with a vibrato that fades in over LEAD_VIBRATO_DELAY_S."""
    rate, depth = vibrato
    pitch = np.full(m, float(phrase[0][2]))
    glide = max(int(LEAD_GLIDE_S * groove.sr), 1)
    prev: int | None = None
    for start, length, midi in phrase:
        s0, s1 = groove.at(start) - p0, min(groove.at(start + length) - p0, m)
        if s0 >= s1:
            continue
        t = np.arange(s1 - s0) / groove.sr
        wobble = np.minimum(t / LEAD_VIBRATO_DELAY_S, 1.0) * np.sin(2 * np.pi * rate * t)
        pitch[s0:s1] = midi + depth / 100.0 * wobble
        if prev is not None:
            g = min(glide, s1 - s0)
            pitch[s0 : s0 + g] += np.linspace(prev - midi, 0.0, g)
        prev = midi
    return pitch


def _lead_phrase(
    groove: Groove, phrase: list[Note], rng: np.random.Generator, vibrato: tuple[float, float]
) -> tuple[int, np.ndarray]:
    """First sample and audio of one sung-like phrase: a saw through one vowel's formants."""
    sr = groove.sr
    p0 = groove.at(phrase[0][0])
    m = min(groove.at(phrase[-1][0] + phrase[-1][1]), groove.n_samples) - p0
    if m <= 0:
        return p0, np.zeros(0)
    pitch = _lead_pitch(groove, phrase, p0, m, vibrato)
    knots = np.arange(0, m + LEAD_DRIFT_STEP_S * sr, LEAD_DRIFT_STEP_S * sr)
    pitch += np.interp(np.arange(m), knots, rng.normal(0.0, LEAD_DRIFT_CENTS / 100, knots.size))
    freq = snd.midi_to_hz(pitch)
    source = snd.saw(np.cumsum(freq) / sr, freq / sr)
    voiced = snd.formants(source, pick(rng, tuple(snd.VOWEL_FORMANTS_HZ)), sr)
    voiced /= max(float(np.sqrt(np.mean(voiced**2))), 1e-12)  # every vowel equally loud
    return p0, snd.edges(voiced, sr, *LEAD_EDGES_S)


def lead(groove: Groove, rng: Seed = None) -> np.ndarray:
    """A vocal-like lead: legato phrases (a vowel each) with breaths between, portamento,
    delayed vibrato (4.5-6.5 Hz, 20-60 cents) and slow drift, f0 164.8-523.3 Hz."""
    gen = generator(rng)
    vibrato = (uniform(gen, LEAD_VIBRATO_HZ), uniform(gen, LEAD_VIBRATO_CENTS))
    out = np.zeros(groove.n_samples)
    for phrase in lead_phrases(groove, gen):
        start, audio = _lead_phrase(groove, phrase, gen, vibrato)
        snd.place(out, audio, start)
    return out.astype(np.float32)
