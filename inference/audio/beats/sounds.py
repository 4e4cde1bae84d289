"""The sounds of ``beats``: one drum hit or one note at a time, with numpy and scipy.signal.

Kick, snare / clap and hats; the 808's frequency and envelope segments and its saturation;
pad, organ and electric-piano chord voices; a Karplus-Strong pluck and an FM bell; a
band-limited saw and vowel formants for the vocal-like lead. Nothing here knows about
tempo, keys or styles (that is ``score``) or puts sounds in time (``parts``).
Every sound is float64, unnormalised, at the sample rate it is given.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

A4_HZ = 440.0  # Hz: MIDI note 69
EDGE_S = 0.005  # s: default fade in / out of a note, so that nothing clicks
NYQUIST_SAFE = 0.45  # filter cut-offs and partials stay below this fraction of the rate

# Drum hits, each rendered once per beat and copied to its positions
HIT_S = 0.6  # s: length of a rendered hit; tails are cut there
HIT_EDGES_S = (0.0005, 0.02)  # s: fade in and out of a hit
KICK_SWEEP_HZ = (160.0, 48.0)  # Hz: the kick's sine glides from the first to the second
KICK_SWEEP_S = 0.03  # s: time constant of that glide
KICK_DECAY_S = 0.22  # s: amplitude time constant of the kick
KICK_CLICK = (0.3, 0.002)  # the beater's noise click: amplitude and time constant (s)
SNARE_TONE_HZ = 185.0  # Hz: the snare's drum body
SNARE_NOISE_HZ = (1500.0, 7000.0)  # Hz: band of the snare wires (noise)
SNARE_DECAY_S = (0.05, 0.12)  # s: time constants of the body and of the wires
CLAP_BURSTS_S = (0.0, 0.011, 0.022)  # s: onsets of a clap's noise bursts (4 ms each)
CLAP_BAND_HZ = (800.0, 3500.0)  # Hz: band of the clap's noise
CLAP_TAIL_S = 0.09  # s: time constant of the clap's tail after the last burst
HAT_HIGHPASS_HZ = 3500.0  # Hz: hats are noise above this
HAT_DECAY_S = {"hat": 0.03, "open_hat": 0.22}  # s: closed and open hi-hat time constants

# 808
BASS_DRIVE = 6.0  # tanh drive of the soft saturation: 3rd harmonic -10 dB at full level
BASS_PUNCH = (0.5, 0.012)  # initial pitch overshoot (ratio) and its time constant (s)
BASS_ATTACK_S = 0.005  # s: attack of a struck 808 note

# Chord voices
PAD_TOP_HZ = 3000.0  # Hz: highest harmonic of a pad saw (the pad is low-passed below it)
TABLE_SIZE = 2048  # points per cycle of a wavetable oscillator
ORGAN_DRAWBARS = (1.0, 0.5, 0.3, 0.15)  # amplitudes of harmonics 1-4 of an organ voice
KEYS_INDEX = (1.2, 0.25, 0.2)  # electric piano FM index: onset excess, its tau (s), sustained
KEYS_DECAY_S = 1.6  # s: amplitude time constant of the electric piano

# Melody voices and the lead's vowels
BELL_INDEX = (1.5, 0.12, 0.15)  # FM index: onset excess, its time constant (s), sustained
PLUCK_POSITION = (0.15, 0.35)  # where along the string it is plucked (fraction of length)
PLUCK_NOISE = 0.3  # linear: noise in the pluck's excitation, relative to its triangle
PLUCK_BRIGHTNESS = 3.0  # that noise is low-passed at this times f0
VOWEL_FORMANTS_HZ = {  # (F1, F2, F3) Hz, adult male averages
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
FORMANT_Q = 6.0  # quality factor of each formant resonator
FORMANT_TILT = 0.5  # amplitude of each formant relative to the one below


# --------------------------------------------------------------------------- tools
def midi_to_hz(midi: float | np.ndarray) -> np.ndarray:
    """Equal-tempered frequency (Hz) of MIDI note numbers (69 = A4 = 440 Hz)."""
    return np.asarray(A4_HZ * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0))


def hz(midi: float) -> float:
    """Frequency (Hz) of one MIDI note number."""
    return float(midi_to_hz(midi))


def butter(kind: str, cut_hz: float | tuple[float, float], sr: int, order: int = 2) -> np.ndarray:
    """Butterworth second-order sections; cut-offs capped below Nyquist."""
    top = NYQUIST_SAFE * sr
    cut = tuple(min(f, top) for f in cut_hz) if isinstance(cut_hz, tuple) else min(cut_hz, top)
    return np.asarray(scipy.signal.butter(order, cut, btype=kind, fs=sr, output="sos"))


def sosfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` through second-order sections, as an ndarray."""
    return np.asarray(scipy.signal.sosfilt(sos, x))


def decay(n: int, sr: int, tau_s: float) -> np.ndarray:
    """Exponential decay from 1 with time constant ``tau_s``."""
    return np.exp(-np.arange(n) / (tau_s * sr))


def edges(
    x: np.ndarray, sr: int, attack_s: float = EDGE_S, release_s: float = EDGE_S
) -> np.ndarray:
    """``x`` with linear fades at both ends (in place), so that notes start and stop clean."""
    a = min(max(int(attack_s * sr), 1), x.size)
    r = min(max(int(release_s * sr), 1), x.size)
    x[:a] *= np.linspace(0.0, 1.0, a, endpoint=False)
    x[x.size - r :] *= np.linspace(1.0, 0.0, r)
    return x


def place(out: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``sound`` into ``out`` from sample ``start``, cut at either end."""
    if start >= out.size or start + sound.size <= 0:
        return
    lo, hi = max(start, 0), min(start + sound.size, out.size)
    out[lo:hi] += gain * sound[lo - start : hi - start]


def saw(phase: np.ndarray, dt: np.ndarray | float) -> np.ndarray:
    """Band-limited (polyBLEP) sawtooth from a phase in cycles and its step in cycles/sample."""
    t = phase % 1.0
    y = 2.0 * t - 1.0
    step = np.broadcast_to(np.asarray(dt, dtype=np.float64), t.shape)
    lo = t < step
    x = t[lo] / step[lo]
    y[lo] -= 2.0 * x - x * x - 1.0
    hi = t > 1.0 - step
    x = (t[hi] - 1.0) / step[hi]
    y[hi] -= x * x + 2.0 * x + 1.0
    return y


def _harmonic_table(amps: np.ndarray) -> np.ndarray:
    """One cycle (TABLE_SIZE + 1 points, the last = the first) of harmonics 1.. at ``amps``."""
    cycle = np.arange(TABLE_SIZE + 1) / TABLE_SIZE
    k = np.arange(1, amps.size + 1)
    return np.asarray(amps @ np.sin(2 * np.pi * np.outer(k, cycle)))


def _table_osc(table: np.ndarray, f_hz: float, n: int, sr: int, phase: float = 0.0) -> np.ndarray:
    """``n`` samples of a steady tone read from a one-cycle table, linearly interpolated."""
    pos = (phase + f_hz / sr * np.arange(n)) % 1.0 * TABLE_SIZE
    i = pos.astype(np.intp)
    return table[i] + (pos - i) * (table[i + 1] - table[i])


# --------------------------------------------------------------------------- drums
def kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    """A sine falling from 160 to 48 Hz, decaying, with a noise click on top."""
    n = int(HIT_S * sr)
    top, bottom = KICK_SWEEP_HZ
    freq = bottom + (top - bottom) * decay(n, sr, KICK_SWEEP_S)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * decay(n, sr, KICK_DECAY_S)
    click = KICK_CLICK[0] * rng.standard_normal(n) * decay(n, sr, KICK_CLICK[1])
    return edges(body + click, sr, *HIT_EDGES_S)


def _decay_from(n: int, sr: int, onset_s: float, tau_s: float) -> np.ndarray:
    env = np.zeros(n)
    k = int(onset_s * sr)
    env[k:] = decay(n - k, sr, tau_s)
    return env


def snare(sr: int, rng: np.random.Generator, clap: bool) -> np.ndarray:
    """A 185 Hz body and band-passed noise wires; with ``clap``, three noise bursts and a tail
    layered on top (trap and drill)."""
    n = int(HIT_S * sr)
    body_s, wires_s = SNARE_DECAY_S
    body = np.sin(2 * np.pi * SNARE_TONE_HZ * np.arange(n) / sr) * decay(n, sr, body_s)
    wires = sosfilt(butter("bandpass", SNARE_NOISE_HZ, sr), rng.standard_normal(n))
    out = 0.5 * body + 1.2 * wires * decay(n, sr, wires_s)
    if clap:
        env = sum((_decay_from(n, sr, t, 0.004) for t in CLAP_BURSTS_S), np.zeros(n))
        env += 0.5 * _decay_from(n, sr, CLAP_BURSTS_S[-1], CLAP_TAIL_S)
        band = sosfilt(butter("bandpass", CLAP_BAND_HZ, sr), rng.standard_normal(n))
        out = 0.6 * out + 1.5 * band * env
    return edges(out, sr, *HIT_EDGES_S)


def hat(sr: int, rng: np.random.Generator, kind: str = "hat") -> np.ndarray:
    """High-passed noise with a fast ("hat") or slow ("open_hat") decay."""
    tau_s = HAT_DECAY_S[kind]
    n = int(min(HIT_S, 6 * tau_s) * sr)
    noise = sosfilt(butter("highpass", HAT_HIGHPASS_HZ, sr, order=4), rng.standard_normal(n))
    return edges(noise * decay(n, sr, tau_s), sr, HIT_EDGES_S[0], 0.01)


# --------------------------------------------------------------------------- 808
def bass_hit(f_hz: float, n: int, sr: int, decay_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequency and envelope of a struck 808 note: a pitch punch, a short attack, a decay."""
    punch, tau = BASS_PUNCH
    env = decay(n, sr, decay_s)
    attack = min(max(int(BASS_ATTACK_S * sr), 1), n)
    env[:attack] *= np.linspace(0.0, 1.0, attack)
    return f_hz * (1.0 + punch * decay(n, sr, tau)), env


def bass_glide(
    from_hz: float, f_hz: float, level: float, n: int, sr: int, decay_s: float, glide_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frequency and envelope of a legato 808 note: an exponential glide, no new attack."""
    freq = np.full(n, f_hz)
    g = min(max(int(glide_s * sr), 1), n)
    freq[:g] = from_hz * (f_hz / from_hz) ** np.linspace(0.0, 1.0, g)
    return freq, level * decay(n, sr, decay_s)


def saturated_sine(freq: np.ndarray, env: np.ndarray, sr: int) -> np.ndarray:
    """A sine following ``freq`` (Hz per sample) at ``env``, through a tanh soft clipper."""
    tone = env * np.sin(2 * np.pi * np.cumsum(freq) / sr)
    return np.asarray(np.tanh(BASS_DRIVE * tone) / np.tanh(BASS_DRIVE))


# --------------------------------------------------------------------------- chords
def pad_voice(f_hz: float, n: int, sr: int, detune_cents: float, timbre: str) -> np.ndarray:
    """One sustained chord note (peak about 1, no envelope): two detuned band-limited saws
    ("saw"), an additive organ ("organ") or an FM electric piano ("keys")."""
    if timbre == "saw":
        top = max(int(min(PAD_TOP_HZ, NYQUIST_SAFE * sr) / f_hz), 1)
        table = _harmonic_table(1.0 / np.arange(1, top + 1))
        spread = (f_hz * 2 ** (-detune_cents / 1200), f_hz * 2 ** (detune_cents / 1200))
        low, high = (_table_osc(table, f, n, sr, 0.5 * i) for i, f in enumerate(spread))
        return 0.5 * (low + high)
    if timbre == "organ":
        return _table_osc(_harmonic_table(np.asarray(ORGAN_DRAWBARS)), f_hz, n, sr)
    t = np.arange(n) / sr
    index = KEYS_INDEX[0] * np.exp(-t / KEYS_INDEX[1]) + KEYS_INDEX[2]
    tone = np.sin(2 * np.pi * f_hz * t + index * np.sin(2 * np.pi * f_hz * t))
    return tone * np.exp(-t / KEYS_DECAY_S)


# --------------------------------------------------------------------------- melody and lead
def _pluck_shape(n: int, f_hz: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One period of string displacement: a triangle peaking at the pluck position (harmonics
    fall as 1/k^2) plus some low-passed noise; zero mean, since the loop would keep DC."""
    x = np.arange(n) / n
    at = float(rng.uniform(*PLUCK_POSITION))
    shape = np.where(x < at, x / at, (1.0 - x) / (1.0 - at))
    noise = sosfilt(butter("lowpass", PLUCK_BRIGHTNESS * f_hz, sr), rng.uniform(-1.0, 1.0, n))
    shape = shape + PLUCK_NOISE * noise
    return shape - shape.mean()


def pluck(f_hz: float, n: int, sr: int, decay_s: float, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong string, tuned exactly by a first-order all-pass in the loop; 60 dB down
    after ``decay_s``."""
    period = sr / f_hz
    delay = int(period - 0.6)  # the averager adds 0.5 sample, the all-pass 0.1-1.1
    frac = period - 0.5 - delay
    c = (1.0 - frac) / (1.0 + frac)
    g = 10.0 ** (-3.0 / (decay_s * f_hz))  # loop gain per period
    a = np.zeros(delay + 3)
    a[0], a[1] = 1.0, c
    a[delay : delay + 3] += (-0.5 * g * c, -0.5 * g * (1.0 + c), -0.5 * g)
    burst = np.zeros(max(n, delay + 1))
    burst[: delay + 1] = _pluck_shape(delay + 1, f_hz, sr, rng)
    return np.asarray(scipy.signal.lfilter([1.0, c], a, burst))[:n]


def bell(f_hz: float, n: int, sr: int, decay_s: float) -> np.ndarray:
    """FM bell, modulator at 2 x the carrier (odd harmonics), index decaying from bright;
    60 dB down after about ``decay_s`` (amplitude time constant decay_s / 3)."""
    t = np.arange(n) / sr
    index = BELL_INDEX[0] * np.exp(-t / BELL_INDEX[1]) + BELL_INDEX[2]
    tone = np.sin(2 * np.pi * f_hz * t + index * np.sin(2 * np.pi * 2 * f_hz * t))
    return tone * np.exp(-t * 3.0 / decay_s)


def formants(source: np.ndarray, vowel: str, sr: int) -> np.ndarray:
    """``source`` through the vowel's three formant resonators in parallel."""
    out = np.zeros_like(source)
    for k, f_hz in enumerate(VOWEL_FORMANTS_HZ[vowel]):
        if f_hz < NYQUIST_SAFE * sr:
            b, a = scipy.signal.iirpeak(f_hz, FORMANT_Q, fs=sr)
            out += FORMANT_TILT**k * scipy.signal.lfilter(b, a, source)
    return out
