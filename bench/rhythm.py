"""Flow coaching against takes whose timing is known: the targets of issue 18.

Each group of ``bench.timing_takes`` (one voice, beat, tempo, pattern and jitter draw) is
rendered several times, identical but for what a check varies: over a beat at offsets
``OFFSETS_MS`` with a tight jitter (``TIGHT_MS``) and at offset 0 with a loose one
(``LOOSE_MS``); a cappella tight and loose at offset 0 (the own pulse follows a constant
shift, so offsets are not compared there). Every take goes through the real pipeline on one
thread and its ``Features.rhythm`` is compared with the truth:

- tempo: the grid's BPM within 2 % of the beat's (or half or double), notes with a beat;
- offset: for two takes that differ only by a shift, the difference of ``offset_ms``
  recovers the shift's within 20 ms, with the right sign; also for the pairs whose shifts
  stay within half a 16th of the measured grid (a nearest-16th offset cannot say more);
- tightness: the loose take (50 ms) measured looser than its tight twin (10 ms);
- grid label: "beat" over a beat, "own pulse" a cappella;
- cost: p50 of the "rhythm" stage and of the whole ``features_from_wav`` per 30 s note;
- for information: absolute offset error (against the words' energy onsets and their
  vowels' onsets), swing, syllables found vs placed, bar 1 placed, tempo drift.

    python -m bench.rhythm --set A --n 24 --cache /tmp/bench/timing --json bench/out/rhythm-A.json

A failed note (refused, or no rhythm) fails every check it is in.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np

from bench.timing_takes import ACAPPELLA_EVERY, TakeSpec, WordBank, draw_spec, render_take
from inference import Pipeline, PipelineOptions, RapsimError, load_encoder
from inference.runtime import limit_threads

log = logging.getLogger("bench.rhythm")

OFFSETS_MS = (-60.0, 0.0, 80.0)
TIGHT_MS, LOOSE_MS = 10.0, 50.0
TEMPO_TOLERANCE = 0.02
SHIFT_TOLERANCE_MS = 20.0
SWING_MIN_OFFBEATS = 8  # syllables on off-beat 16ths before a take's swing is compared
NOTE_SECONDS = 30.0  # costs are per 30 s note (scaled from the 20-30 s notes)
DEFAULT_SEED = {"A": 1, "B": 2}
TARGETS = {  # check: (the figure's key, at least)
    "tempo within 2 %": ("tempo_ok", 0.95),
    "offset shift within 20 ms": ("shift_ok", 0.90),
    "offset shift sign right": ("shift_sign_ok", 1.0),
    "tightness loose > tight": ("tightness_ok", 0.95),
    'a cappella "own pulse"': ("own_pulse_ok", 0.95),
    'over a beat "beat"': ("beat_label_ok", 0.95),
}


def variants(spec: TakeSpec) -> dict[str, TakeSpec]:
    """The takes of one group, by name."""
    out = {"loose": spec.but(offset_ms=0.0, jitter_ms=LOOSE_MS)}
    offsets = OFFSETS_MS if spec.family else (0.0,)
    for off in offsets:
        out[f"off{off:+.0f}"] = spec.but(offset_ms=off, jitter_ms=TIGHT_MS)
    return out


def measure(pipeline: Pipeline, spec: TakeSpec, words: WordBank, cache: Path) -> dict:
    """One take through the pipeline: its truth and what was measured."""
    take = render_take(spec, words, cache / "beats")
    t = take.truth
    rec = {
        "group": spec.index, "beat": t.beat, "voice": spec.voice, "seconds": spec.seconds,
        "offset_nominal": spec.offset_ms, "jitter_nominal": spec.jitter_ms,
        "bpm_true": t.bpm, "beat_s_true": t.beat_s, "downbeat_true": t.downbeat_s,
        "swing_true": t.swing, "offset_true": t.offset_ms, "vowel_offset_true": t.vowel_offset_ms,
        "drift_true": t.drift_pct, "placed": int(t.onset_times.size),
        "offbeats": int(np.sum(t.sixteenths % 2 == 1)),
    }  # fmt: skip
    start = time.perf_counter()
    try:
        feats = pipeline.features_from_wav(take.audio)
    except RapsimError as e:
        return {**rec, "error": f"{type(e).__name__}: {e}"}
    rec["total_ms"] = (time.perf_counter() - start) * 1000
    rec["rhythm_ms"] = feats.timings_ms.get("rhythm", float("nan"))
    r = getattr(feats, "rhythm", None)  # None until the rhythm stage lands, or too few syllables
    if r is None:
        return {**rec, "error": "no rhythm"}
    return {
        **rec, "grid": r.grid, "bpm": r.bpm, "beat_s": r.beat_s, "downbeat_s": r.downbeat_s,
        "offset_ms": r.offset_ms, "tightness_ms": r.tightness_ms, "swing": r.swing,
        "syllables": len(r.syllables), "drift": r.tempo_drift_pct,
    }  # fmt: skip


def run_set(
    pipeline: Pipeline, set_name: str, groups: list[int], seed: int, cache: Path
) -> list[dict]:
    words = WordBank(cache)
    records = []
    for i in groups:
        spec = draw_spec(set_name, i, seed)
        for name, variant in variants(spec).items():
            rec = {"variant": name, **measure(pipeline, variant, words, cache)}
            records.append(rec)
            log.info("%s %d %s %s", set_name, i, name, _brief(rec))
    return records


def _brief(rec: dict) -> str:
    if "error" in rec:
        return rec["error"]
    return (
        f"{rec['beat'] or 'a cappella'} {rec['grid']} bpm {rec['bpm']:.1f}/{rec['bpm_true']:.1f} "
        f"offset {rec['offset_ms']:.0f}/{rec['offset_true']:.0f} tight {rec['tightness_ms']:.0f} "
        f"rhythm {rec['rhythm_ms']:.0f} ms"
    )


# --------------------------------------------------------------------------- figures
def _ok(rec: dict) -> bool:
    return "error" not in rec


def _tempo_ok(rec: dict) -> bool:
    return _ok(rec) and any(
        abs(rec["bpm"] / (rec["bpm_true"] * k) - 1.0) <= TEMPO_TOLERANCE for k in (0.5, 1.0, 2.0)
    )


def _share(flags: list[bool]) -> dict:
    return {"share": round(float(np.mean(flags)), 3) if flags else None, "n": len(flags)}


def _median(values: list[float], digits: int = 1) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return round(float(np.median(finite)), digits) if finite else None


def _where(flags: list[bool], keep: list[bool]) -> list[bool]:
    return [f for f, k in zip(flags, keep, strict=True) if k]


def _groups(records: list[dict]) -> dict[int, dict[str, dict]]:
    out: dict[int, dict[str, dict]] = {}
    for rec in records:
        out.setdefault(rec["group"], {})[rec["variant"]] = rec
    return out


def shift_pairs(records: list[dict]) -> tuple[list[dict], list[bool]]:
    """Every pair of offset takes of a beat group: (known, measured) and whether both
    shifts stay within half a 16th of the grid measured on the pair."""
    pairs, inside = [], []
    for group in _groups(records).values():
        takes = [r for name, r in group.items() if name.startswith("off") and r["beat"]]
        for a, b in combinations(sorted(takes, key=lambda r: r["offset_nominal"]), 2):
            known = b["offset_true"] - a["offset_true"]
            measured = b["offset_ms"] - a["offset_ms"] if _ok(a) and _ok(b) else None
            pairs.append({"known": known, "measured": measured})
            half = [r["beat_s"] / 8 * 1000 for r in (a, b) if _ok(r)]
            biggest = max(abs(a["offset_true"]), abs(b["offset_true"]))
            inside.append(bool(half) and biggest < min(half))
    return pairs, inside


def summarise(records: list[dict]) -> dict:
    beat = [r for r in records if r["beat"]]
    ok = [r for r in records if _ok(r)]
    return {
        "takes": len(records),
        "failed": len(records) - len(ok),
        "errors": sorted({r["error"] for r in records if not _ok(r)}),
        "tempo_ok": _share([_tempo_ok(r) for r in beat]),
        "beat_label_ok": _share([_ok(r) and r["grid"] == "beat" for r in beat]),
        **_own_pulse([r for r in records if not r["beat"]]),
        **_shifts(records),
        **_tightness(records),
        **_cost(ok),
        **_information(ok),
    }


def _own_pulse(acap: list[dict]) -> dict:
    labelled = [_ok(r) and r["grid"] == "own pulse" for r in acap]
    tight = [r["variant"] != "loose" for r in acap]
    return {
        "own_pulse_ok": _share(labelled),
        "own_pulse_ok_tight": _share(_where(labelled, tight)),
        "own_pulse_ok_loose": _share(_where(labelled, [not t for t in tight])),
        "own_pulse_tempo_ok_tight": _share(_where([_tempo_ok(r) for r in acap], tight)),
    }


def _shifts(records: list[dict]) -> dict:
    pairs, inside = shift_pairs(records)
    within = [
        p["measured"] is not None and abs(p["measured"] - p["known"]) <= SHIFT_TOLERANCE_MS
        for p in pairs
    ]
    sign = [p["measured"] is not None and p["measured"] * p["known"] > 0 for p in pairs]
    return {
        "shift_ok": _share(within),
        "shift_sign_ok": _share(sign),
        "shift_ok_within_half_16th": _share(_where(within, inside)),
        "shift_sign_ok_within_half_16th": _share(_where(sign, inside)),
        "shift_error_ms_p50": _median(
            [abs(p["measured"] - p["known"]) for p in pairs if p["measured"] is not None]
        ),
    }


def _tightness(records: list[dict]) -> dict:
    pairs = [(g["off+0"], g["loose"]) for g in _groups(records).values() if "loose" in g]
    looser = [_ok(t) and _ok(lo) and lo["tightness_ms"] > t["tightness_ms"] for t, lo in pairs]
    over_beat = [bool(t["beat"]) for t, _ in pairs]
    ok = [r for r in records if _ok(r)]
    return {
        "tightness_ok": _share(looser),
        "tightness_ok_beat": _share(_where(looser, over_beat)),
        "tightness_ok_own_pulse": _share(_where(looser, [not b for b in over_beat])),
        "tightness_ms_p50_tight": _median(
            [r["tightness_ms"] for r in ok if r["variant"] != "loose"]
        ),
        "tightness_ms_p50_loose": _median(
            [r["tightness_ms"] for r in ok if r["variant"] == "loose"]
        ),
    }


def _cost(ok: list[dict]) -> dict:
    """p50 ms per 30 s note (each 20-30 s note's time scaled to 30 s)."""

    def p50(key: str, keep: Callable[[dict], bool] = lambda r: True) -> float | None:
        return _median([r[key] * NOTE_SECONDS / r["seconds"] for r in ok if keep(r)])

    return {
        "rhythm_ms_p50": p50("rhythm_ms"),
        "rhythm_ms_p50_beat": p50("rhythm_ms", lambda r: bool(r["beat"])),
        "rhythm_ms_p50_own_pulse": p50("rhythm_ms", lambda r: not r["beat"]),
        "total_ms_p50": p50("total_ms"),
    }


def _information(ok: list[dict]) -> dict:
    on_beat = [r for r in ok if r["beat"] and r["grid"] == "beat" and _tempo_ok(r)]
    err = [r["offset_ms"] - r["offset_true"] for r in on_beat]
    swung = [r for r in ok if r["offbeats"] >= SWING_MIN_OFFBEATS]
    swing_err = [abs(r["swing"] - r["swing_true"]) for r in swung]
    at_zero = [abs(r["swing"] - r["swing_true"]) for r in swung if r["offset_nominal"] == 0]
    ratio = [r["syllables"] / r["placed"] for r in ok]
    same = [r for r in on_beat if abs(r["bpm"] / r["bpm_true"] - 1) <= TEMPO_TOLERANCE]
    bar = [4 * r["beat_s_true"] for r in same]
    phase = [
        abs((r["downbeat_s"] - r["downbeat_true"] + b / 2) % b - b / 2) <= 0.05
        for r, b in zip(same, bar, strict=True)
    ]
    drifting = [r for r in ok if not r["beat"] and r["drift_true"]]
    return {
        "offset_error_ms_p50": _median(err),
        "offset_abs_error_ms_p50": _median([abs(e) for e in err]),
        "offset_error_vs_vowel_ms_p50": _median(
            [r["offset_ms"] - r["vowel_offset_true"] for r in on_beat]
        ),
        "swing_abs_error_p50": _median(swing_err, 3),
        "swing_within_0.03": _share([e <= 0.03 for e in swing_err]),
        "swing_abs_error_p50_offset_0": _median(at_zero, 3),
        "syllables_found_over_placed_p50": _median(ratio, 3),
        "syllables_within_10pct": _share([abs(x - 1) <= 0.1 for x in ratio]),
        "bar_1_within_50ms": _share(phase),
        "tempo_ratios": _ratios([r for r in ok if r["beat"]]),
        "drift_abs_error_pct_p50": _median(
            [abs(r["drift"] - r["drift_true"]) for r in drifting], 2
        ),
    }


def _ratios(recs: list[dict]) -> dict[str, int]:
    """How measured tempos relate to the beat's: 1, 1/2, 2, 3/2, 2/3, ... or other."""
    names = {"1": 1.0, "1/2": 0.5, "2": 2.0, "3/2": 1.5, "2/3": 2 / 3, "4/3": 4 / 3, "3/4": 0.75}
    out: dict[str, int] = {}
    for r in recs:
        x = r["bpm"] / r["bpm_true"]
        name = next((k for k, v in names.items() if abs(x / v - 1) <= TEMPO_TOLERANCE), "other")
        out[name] = out.get(name, 0) + 1
    return out


INFO_ROWS = (  # label, figures shown (a share shows its share)
    ("shift within 20 ms / sign right, shifts < half a 16th",
     ("shift_ok_within_half_16th", "shift_sign_ok_within_half_16th")),
    ("shift error ms p50", ("shift_error_ms_p50",)),
    ("tightness loose > tight: beat / own pulse", ("tightness_ok_beat", "tightness_ok_own_pulse")),
    ("tightness ms p50: tight / loose", ("tightness_ms_p50_tight", "tightness_ms_p50_loose")),
    ("rhythm ms per 30 s p50: all / beat / own pulse",
     ("rhythm_ms_p50", "rhythm_ms_p50_beat", "rhythm_ms_p50_own_pulse")),
    ("total ms per 30 s note p50", ("total_ms_p50",)),
    ("offset error ms p50: signed / abs / vs vowels",
     ("offset_error_ms_p50", "offset_abs_error_ms_p50", "offset_error_vs_vowel_ms_p50")),
    ("swing abs error p50 / within 0.03 / p50 at offset 0",
     ("swing_abs_error_p50", "swing_within_0.03", "swing_abs_error_p50_offset_0")),
    ('a cappella "own pulse": tight / loose', ("own_pulse_ok_tight", "own_pulse_ok_loose")),
    ("a cappella tempo within 2 % (tight)", ("own_pulse_tempo_ok_tight",)),
    ("syllables found / placed p50, within 10 %",
     ("syllables_found_over_placed_p50", "syllables_within_10pct")),
    ("bar 1 within 50 ms (tempo right)", ("bar_1_within_50ms",)),
    ("measured / true tempo", ("tempo_ratios",)),
    ("drift abs error % p50 (a cappella)", ("drift_abs_error_pct_p50",)),
    ("failed takes / takes", ("failed", "takes")),
)  # fmt: skip


def _shown(value: object) -> str:
    if isinstance(value, dict) and "share" in value:
        return f"{value['share']} (n={value['n']})"
    return str(value)


def table(set_name: str, s: dict) -> str:
    """The targets, met or not, then the figures for information, as Markdown."""
    rows = [f"| set {set_name} | figure | target | met |", "|---|---:|---:|---|"]
    for name, (key, target) in TARGETS.items():
        share = s[key]["share"]
        met = "yes" if share is not None and share >= target else "NO"
        rows.append(f"| {name} | {_shown(s[key])} | {target} | {met} |")
    for name, keys in INFO_ROWS:
        rows.append(f"| {name} | {' / '.join(_shown(s[k]) for k in keys)} | | |")
    if s["errors"]:
        rows.append(f"| errors | {'; '.join(s['errors'])} | | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("A", "B"), default="A", dest="set_name")
    ap.add_argument("--n", type=int, default=24, help="groups (every third a cappella)")
    ap.add_argument("--only", help="comma-separated group indices to run (e.g. to look at one)")
    ap.add_argument("--seed", type=int, help="default: 1 for A, 2 for B")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/bench/timing"))
    ap.add_argument("--json", type=Path, help="write the figures and every take here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    limit_threads(1)
    pipeline = Pipeline(load_encoder("resemblyzer"), PipelineOptions(threads=1))
    pipeline.warmup()
    seed = DEFAULT_SEED[args.set_name] if args.seed is None else args.seed
    groups = [int(g) for g in args.only.split(",")] if args.only else list(range(args.n))
    records = run_set(pipeline, args.set_name, groups, seed, args.cache)
    summary = summarise(records)
    print(table(args.set_name, summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"set": args.set_name, "n": args.n, "seed": seed, "summary": summary,
               "a_cappella_every": ACAPPELLA_EVERY, "takes": records}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
