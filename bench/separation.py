"""The voice separator on notes over beats: isolation quality, voice activity, refusals, cost.

python -m bench.separation --corpus /tmp/bench/corpus --family numpy|gm-a|gm-b [--out F]
python -m bench.separation --cost   (one thread, pinned to CPU 1: ms per 30 s, peak RSS)

Notes are 20-30 s: clean clips of one identity joined, scaled to the training voice level,
from the identities that training held out (``models.separation.data.split_identities``;
``--voices all`` takes every identity). Each note is measured clean and over one beat of the
family at 0, 2.5 and 5 dB (``inference.audio.beats.mix_at_snr``'s definition). Beat-only
inputs (20 s): full beat, chords and melody only, drums only.

Measured: SI-SDR of the isolated voice vs the clean take (and of the mix, and of the HPSS
harmonic part that ``prepare.suppress_percussion`` gives); 10 ms frame accuracy of voice
activity vs the clean voice's labels (the training labels); voiced seconds, with a voice
note "wrongly refused" under ``NOTE_MIN_S`` and a beat "refused" under ``BEAT_MAX_S``. The
detectors: the separator's activity, today's detector (``prepare`` without a separator:
webrtcvad + periodicity), and silero-vad when it is installed.

Not here: the matching or style measures on the isolated voice.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.table import emit
from inference.audio.beats import DEFAULT_PARTS, STYLES, make_beat, mix_at_snr, random_beat
from inference.audio.prepare import prepare, suppress_percussion
from inference.audio.separate import Separator
from inference.constants import MIN_VOICED_SECONDS, SAMPLE_RATE
from inference.errors import NoVoiceError
from models.separation.data import (
    VOICE_RMS_DBFS,
    activity_labels,
    frame_db,
    split_identities,
)

SNRS_DB = (0.0, 2.5, 5.0)
NOTE_SECONDS = (20.0, 30.0)  # s: a note joins clips until it is this long, cut at the top
BEAT_ONLY_SECONDS = 20.0
NOTE_MIN_S = max(2.0, MIN_VOICED_SECONDS)  # s: a voice note must show at least this voice
BEAT_MAX_S = 1.0  # s: a beat alone must show less voice than this
GRID = 160  # samples: the 10 ms grid frame accuracy is measured on
CACHE = Path("/tmp/sep/gm_cache")
Detector = Callable[[np.ndarray], np.ndarray]  # wav -> bool per 10 ms


@dataclass(frozen=True, eq=False)
class Note:
    identity: str
    voice: np.ndarray  # float32 at VOICE_RMS_DBFS active level
    labels: np.ndarray  # float32 per 10 ms: voiced (the training labels)


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    ref = ref.astype(np.float64) - ref.mean()
    est = est.astype(np.float64) - est.mean()
    target = (est @ ref) / max(ref @ ref, 1e-12) * ref
    noise = est - target
    return float(10 * np.log10(max(target @ target, 1e-12) / max(noise @ noise, 1e-12)))


def _active_power(x: np.ndarray) -> float:
    e = np.mean(np.square(x[: x.size // GRID * GRID]).reshape(-1, GRID), axis=1)
    return float(e[e >= e.max() * 1e-3].mean())


def load_notes(corpus: Path, voices: str, per_voice: int) -> list[Note]:
    """Up to ``per_voice`` notes per chosen identity, each of clean clips joined."""
    import soundfile as sf

    with open(corpus / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["beat"] == "0"]
    names = sorted({r["identity"] for r in rows})
    train, held = split_identities(names)
    chosen = {"held": held, "train": train, "all": names}[voices]
    notes = []
    for identity in chosen:
        clips = [
            sf.read(corpus / r["path"], dtype="float32")[0]
            for r in rows
            if r["identity"] == identity
        ]
        for _ in range(per_voice):
            parts, total = [], 0
            while clips and total < NOTE_SECONDS[0] * SAMPLE_RATE:
                parts.append(clips.pop(0))
                total += parts[-1].size
            if total < NOTE_SECONDS[0] * SAMPLE_RATE:
                break
            audio = np.concatenate(parts)[: int(NOTE_SECONDS[1] * SAMPLE_RATE)]
            audio *= np.float32(10 ** (VOICE_RMS_DBFS / 20) / np.sqrt(_active_power(audio)))
            ref = float(frame_db(audio, 512, GRID).max())
            notes.append(Note(identity, audio, activity_labels(audio, ref, 512, GRID)))
    return notes


def _gm_style(family: str, name: str) -> object:
    from bench.gm_beats import FAMILIES

    return next(s for s in FAMILIES[family].styles if s.name == name)


def note_beats(family: str, n: int, seed: int) -> list[np.ndarray]:
    """``n`` beats of NOTE_SECONDS[1] for the voice notes (varied part mixes)."""
    if family == "numpy":
        rng = np.random.default_rng([seed, 1])
        return [random_beat(rng, NOTE_SECONDS[1]).audio for _ in range(n)]
    from bench.gm_beats import family_beats

    return [b.audio for b in family_beats(family, n, NOTE_SECONDS[1], seed, cache_dir=CACHE)]


def beat_only(family: str, n: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """(variant, audio) for ``n`` beats, each as full, tonal (chords+melody), drums only."""
    if family == "numpy":
        variants = {
            "full": DEFAULT_PARTS | {"lead"},
            "tonal": {"chords", "melody", "lead"},
            "drums": {"drums", "808"},
        }
        for i in range(n):
            for name, parts in variants.items():
                beat = make_beat(
                    STYLES[i % 4], None, BEAT_ONLY_SECONDS, seed * 1000 + i, parts=parts
                )
                yield name, beat.audio
        return
    from bench.gm_beats import PARTS, family_beats, render

    for b in family_beats(family, n, BEAT_ONLY_SECONDS, seed + 1, cache_dir=CACHE):
        style, sf2 = _gm_style(family, b.style), b.soundfont
        for name, played in (
            ("full", PARTS),
            ("tonal", ("chords", "melody")),
            ("drums", ("drums",)),
        ):
            gm = render(style, b.bpm, BEAT_ONLY_SECONDS, b.seed, sf2, played, cache_dir=CACHE)  # type: ignore[arg-type]
            yield name, gm.audio


def _grid(mask_per_sample: np.ndarray) -> np.ndarray:
    return mask_per_sample[GRID // 2 :: GRID]


def today_detector(wav: np.ndarray) -> np.ndarray:
    """``prepare`` without a separator (webrtcvad + periodicity); refused: all False."""
    try:
        prepared = prepare(wav)
    except NoVoiceError:
        return np.zeros(wav.size // GRID, dtype=bool)
    start = int(prepared.window_start_seconds * SAMPLE_RATE) // GRID
    per_10ms = np.repeat(prepared.speech_mask, 3)
    out = np.zeros(wav.size // GRID, dtype=bool)
    out[start : start + per_10ms.size] = per_10ms[: out.size - start]
    return out


def silero_detector() -> Detector | None:
    try:
        from silero_vad import get_speech_timestamps, load_silero_vad
    except ImportError:
        return None
    model = load_silero_vad()

    def detect(wav: np.ndarray) -> np.ndarray:
        mask = np.zeros(wav.size, dtype=bool)
        for seg in get_speech_timestamps(torch.from_numpy(wav), model, sampling_rate=SAMPLE_RATE):
            mask[seg["start"] : seg["end"]] = True
        return _grid(mask)

    return detect


def _voiced_s(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask) * GRID / SAMPLE_RATE)


def _accuracy(mask: np.ndarray, labels: np.ndarray) -> float:
    n = min(mask.size, labels.size)
    return float(np.mean(mask[:n] == (labels[:n] > 0.5)))


def run(sep: Separator, notes: list[Note], family: str, seed: int, n_beats: int) -> dict:
    detectors: dict[str, Detector] = {
        "separator": lambda w: sep.separate(w).voiced(0.5, GRID),
        "today": today_detector,
    }
    silero = silero_detector()
    if silero is not None:
        detectors["silero"] = silero
    rows: dict[str, dict[str, list[float]]] = {}
    beats = note_beats(family, len(notes), seed)
    for note, beat in zip(notes, beats, strict=True):
        for cond in ("clean", *(f"{s:g} dB" for s in SNRS_DB)):
            mix = note.voice if cond == "clean" else mix_at_snr(note.voice, beat, float(cond[:-3]))
            r = rows.setdefault(cond, {})
            separated = sep.separate(mix)
            r.setdefault("sisdr_sep", []).append(si_sdr(separated.voice, note.voice))
            r.setdefault("sisdr_mix", []).append(si_sdr(mix, note.voice))
            r.setdefault("sisdr_hpss", []).append(si_sdr(suppress_percussion(mix), note.voice))
            for name, detect in detectors.items():
                mask = separated.voiced(0.5, GRID) if name == "separator" else detect(mix)
                r.setdefault(f"acc_{name}", []).append(_accuracy(mask, note.labels))
                r.setdefault(f"voiced_s_{name}", []).append(_voiced_s(mask))
    for variant, audio in beat_only(family, n_beats, seed):
        r = rows.setdefault(f"beat only: {variant}", {})
        for name, detect in detectors.items():
            r.setdefault(f"voiced_s_{name}", []).append(_voiced_s(detect(audio)))
    return {"family": family, "notes": len(notes), "conditions": _summarise(rows, detectors)}


def _summarise(rows: dict[str, dict[str, list[float]]], detectors: dict) -> dict:
    out = {}
    for cond, r in rows.items():
        s: dict[str, float] = {"n": len(next(iter(r.values())))}
        if "sisdr_sep" in r:
            for k in ("sisdr_sep", "sisdr_mix", "sisdr_hpss"):
                s[k] = float(np.median(r[k]))
            s["sisdr_gain"] = float(np.median(np.subtract(r["sisdr_sep"], r["sisdr_mix"])))
            s["sisdr_sep_min"] = float(np.min(r["sisdr_sep"]))
        for name in detectors:
            voiced = np.asarray(r[f"voiced_s_{name}"])
            if cond.startswith("beat only"):
                s[f"refused_{name}"] = float(np.mean(voiced < BEAT_MAX_S))
                s[f"max_voiced_s_{name}"] = float(voiced.max())
            else:
                s[f"acc_{name}"] = float(np.median(r[f"acc_{name}"]))
                s[f"wrongly_refused_{name}"] = float(np.mean(voiced < NOTE_MIN_S))
                s[f"min_voiced_s_{name}"] = float(voiced.min())
        out[cond] = s
    return out


def markdown(doc: dict) -> str:
    conds = doc["conditions"]
    dets = [d for d in ("separator", "today", "silero") if f"acc_{d}" in conds["clean"]]
    lines = [
        f"{doc['family']} beats, {doc['notes']} notes ({doc.get('corpus', '')})",
        "| condition | SI-SDR sep | mix | gain | HPSS | "
        + " | ".join(f"acc {d} | refused {d}" for d in dets) + " |",
        "|---|---|---|---|---|" + "---|---|" * len(dets),
    ]  # fmt: skip
    for cond, s in conds.items():
        if "sisdr_sep" not in s:
            sdr = "- | - | - | -"
        elif cond == "clean":  # the mix is the reference: no gain to speak of
            sdr = f"{s['sisdr_sep']:.1f} (min {s['sisdr_sep_min']:.1f}) | - | - | "
            sdr += f"{s['sisdr_hpss']:.1f}"
        else:
            sdr = (
                f"{s['sisdr_sep']:.1f} | {s['sisdr_mix']:.1f} | {s['sisdr_gain']:+.1f} | "
                f"{s['sisdr_hpss']:.1f}"
            )
        cells = []
        for d in dets:
            if cond.startswith("beat only"):
                cells.append(
                    f"- | {100 * s[f'refused_{d}']:.0f} % (max {s[f'max_voiced_s_{d}']:.1f} s)"
                )
            else:
                wrong = 100 * s[f"wrongly_refused_{d}"]
                cells.append(
                    f"{s[f'acc_{d}']:.3f} | {wrong:.0f} % (min {s[f'min_voiced_s_{d}']:.1f} s)"
                )
        lines.append(f"| {cond} | {sdr} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost(sep: Separator, repeats: int = 9) -> dict:
    """ms per 30 s note on one thread (CPU 1 when there is one), and peak RSS deltas."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    note = (0.05 * rng.standard_normal(30 * SAMPLE_RATE)).astype(np.float32)
    long = (0.05 * rng.standard_normal(300 * SAMPLE_RATE)).astype(np.float32)
    sep.warmup()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sep.separate(note)
        times.append(1000 * (time.perf_counter() - t))
    after_30 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    sep.separate(long)
    ms_300 = 1000 * (time.perf_counter() - t)
    after_300 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "ms_per_30s_median": float(np.median(times)),
        "ms_per_30s_min": float(np.min(times)),
        "ms_per_300s": ms_300,
        "peak_rss_delta_mb_30s": (after_30 - before) / 1024,
        "peak_rss_delta_mb_300s": (after_300 - before) / 1024,
        "params": sum(p.numel() for p in sep.net.parameters()),
    }
    for name, detect in (("today", today_detector), ("silero", silero_detector())):
        if detect is not None:
            t = time.perf_counter()
            detect(note)
            out[f"ms_per_30s_{name}"] = 1000 * (time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--family", choices=("numpy", "gm-a", "gm-b"), default="numpy")
    ap.add_argument("--voices", choices=("held", "train", "all"), default="held")
    ap.add_argument("--notes-per-voice", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="at most this many notes (0: all)")
    ap.add_argument("--beat-only", type=int, default=8, help="beats, each in 3 variants")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--weights", type=Path, default=None, help="separator folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cost", action="store_true", help="only the one-thread cost")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    a = ap.parse_args(argv)
    sep = Separator.load(a.weights)
    if a.cost:
        emit(cost(sep), a.out)
        return 0
    torch.set_num_threads(a.threads)
    notes = load_notes(a.corpus, a.voices, a.notes_per_voice)[: a.limit or None]
    doc = run(sep, notes, a.family, a.seed, a.beat_only)
    doc["corpus"] = f"{a.corpus} ({a.voices} voices)"
    emit(doc, a.out)
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
