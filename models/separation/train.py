"""The training loop of the voice separator, and its command line.

The shipped weights (``inference/audio/separator/``) were made on 2 shared CPU cores with::

    nice -n 5 taskset -c 0,1 .venv/bin/python -m models.separation.train \\
        --voices /tmp/sep/voices --out inference/audio/separator \\
        --steps 9000 --minutes 20 --val-every 500

(the 20 minutes ran out at step 8028; the best validation loss was at step 8000), where
/tmp/sep/voices came from ``make_corpus.py --out /tmp/sep/voices --voices default
--clips-per-voice 10 --seed 11 --with-beat-prob 0 --rate-max 1.6 -j 2``.

Loss per batch (mix and voice scaled together so that the mix is at the net's input level):
L1 between the compressed (power ``MAG_POWER``) magnitudes of the masked mixture and of the
clean voice, plus ``SDR_WEIGHT`` times the negative SI-SDR of the masked mixture's waveform
(examples with a voice), plus ``BCE_WEIGHT`` times the activity BCE. Adam, learning rate on
a cosine over ``--steps`` or ``--minutes``, whichever ends first (so on a busy machine the
step count, and the result, vary; seeds are fixed); the checkpoint with the lowest
validation loss (held-out voices over beats of other seeds) is the one written.

Not here: mixing (``data``), the net and its files (``inference.audio.separate``),
benchmarks (``bench.separation``).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.audio.separate import (
    Separator,
    SeparatorConfig,
    SeparatorNet,
    features,
    level_gain,
)

from .data import Batch, MixOptions, VoiceClip, load_voices, make_batch, render_beats

__all__ = ["TrainOptions", "loss_terms", "main", "train"]

log = logging.getLogger(__name__)

MAG_POWER = 0.3  # magnitude compression of the spectral L1
SDR_WEIGHT = 0.01  # per dB of SI-SDR
BCE_WEIGHT = 0.2
GAIN_JITTER_DB = 6.0  # +- on the features' level: crops are normalised, whole notes too
SDR_CAP_DB = 30.0  # above this SI-SDR no longer pulls (clean voices reach it easily)


@dataclass(frozen=True)
class TrainOptions:
    steps: int = 1200
    minutes: float = 27.0  # wall time: the schedule ends at this or at ``steps``
    batch: int = 12
    seconds: float = 4.0  # s per training crop
    lr: float = 2e-3
    seed: int = 0
    train_beats: int = 240
    val_beats: int = 24
    val_batches: int = 6
    val_every: int = 150
    beat_seconds: float = 8.0
    threads: int = 2


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR (dB) per row."""
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / ref.square().sum(-1, keepdim=True).clamp_min(1e-8)
    target = scale * ref
    noise = est - target
    return 10 * torch.log10(
        target.square().sum(-1).clamp_min(1e-8) / noise.square().sum(-1).clamp_min(1e-8)
    )


def loss_terms(
    sep: Separator, batch: Batch, jitter: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Spectral L1, SI-SDR (dB, voiced examples), activity BCE and their weighted total."""
    mix, voice = torch.from_numpy(batch.mix), torch.from_numpy(batch.voice)
    gain = level_gain(mix, sep.config)
    mix, voice = mix * gain, voice * gain
    spec, target = sep.stft(mix), sep.stft(voice)
    feats = features(spec if jitter is None else spec * jitter[:, None, None])
    mask, logit = sep.net(feats)
    est_mag = mask * spec.abs()
    l1 = (est_mag.clamp_min(1e-8) ** MAG_POWER - target.abs().clamp_min(1e-8) ** MAG_POWER).abs()
    terms = {"l1": l1.mean()}
    has = torch.from_numpy(batch.has_voice)
    if has.any():
        est = sep.istft(spec[has] * mask[has], mix.shape[-1])
        terms["sdr"] = si_sdr(est, voice[has]).clamp_max(SDR_CAP_DB).mean()
    else:
        terms["sdr"] = torch.zeros(())
    labels = torch.from_numpy(batch.active)
    terms["bce"] = torch.nn.functional.binary_cross_entropy_with_logits(logit, labels)
    terms["acc"] = ((logit > 0).float() == labels).float().mean()
    terms["loss"] = terms["l1"] - SDR_WEIGHT * terms["sdr"] + BCE_WEIGHT * terms["bce"]
    return terms


def _init_stats(sep: Separator, batches: Sequence[Batch]) -> None:
    """Per-bin mean and std of the features, so that the first layer sees unit scale."""
    with torch.no_grad():
        feats = []
        for b in batches:
            mix = torch.from_numpy(b.mix)
            feats.append(features(sep.stft(mix * level_gain(mix, sep.config))))
        f = torch.cat(feats, dim=-1).transpose(0, 1).reshape(sep.config.bins, -1)
        sep.net.feat_mean.copy_(f.mean(dim=1, keepdim=True))
        sep.net.feat_std.copy_(f.std(dim=1, keepdim=True).clamp_min(1e-3))


def _validate(sep: Separator, batches: Sequence[Batch]) -> dict[str, float]:
    sep.net.eval()
    with torch.no_grad():
        rows = [loss_terms(sep, b) for b in batches]
    sep.net.train()
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in rows[0]}


def train(
    clips: Sequence[VoiceClip],
    val_clips: Sequence[VoiceClip],
    out: Path,
    opts: TrainOptions,
    config: SeparatorConfig,
    beat_cache: Path | None = None,
    gm: np.ndarray | None = None,
    gm_val: np.ndarray | None = None,
    init: Path | None = None,
) -> dict[str, float]:
    """Train a separator (from the one saved in ``init``, when given) and write the best
    one (by validation loss) to ``out``."""
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    beats = render_beats(opts.train_beats, opts.beat_seconds, seed=1, cache_dir=beat_cache)
    val_beats = render_beats(opts.val_beats, opts.beat_seconds, seed=2, cache_dir=beat_cache)
    val_rng = np.random.default_rng(opts.seed + 1)
    val = [
        make_batch(val_rng, val_clips, val_beats, opts.batch, opts.seconds, MixOptions(), gm=gm_val)
        for _ in range(opts.val_batches)
    ]
    if init is not None:
        sep = Separator.load(init)  # its feature statistics come with it
    else:
        sep = Separator(SeparatorNet(config), config)
        _init_stats(
            sep, [make_batch(rng, clips, beats, opts.batch, opts.seconds, gm=gm) for _ in range(4)]
        )
    sep.net.train()
    adam = torch.optim.Adam(sep.net.parameters(), lr=opts.lr)
    n_params = sum(p.numel() for p in sep.net.parameters())
    log.info("net: %d parameters; %d train / %d val clips", n_params, len(clips), len(val_clips))
    best, best_step, start = math.inf, -1, time.monotonic()
    for step in range(1, opts.steps + 1):
        # the cosine runs over steps or wall time, whichever ends first: on a busy machine
        # the rate still anneals before the time is up
        done = max((step - 1) / opts.steps, (time.monotonic() - start) / (opts.minutes * 60))
        for group in adam.param_groups:
            group["lr"] = opts.lr * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
        batch = make_batch(rng, clips, beats, opts.batch, opts.seconds, gm=gm)
        jitter = 10 ** (torch.empty(opts.batch).uniform_(-GAIN_JITTER_DB, GAIN_JITTER_DB) / 20)
        terms = loss_terms(sep, batch, jitter)
        adam.zero_grad()
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(sep.net.parameters(), 5.0)
        adam.step()
        over = done >= 1.0
        if step % opts.val_every == 0 or step == opts.steps or over:
            v = _validate(sep, val)
            log.info(
                "step %d (%.0f s): train loss %.4f | val loss %.4f l1 %.4f sdr %.2f dB acc %.3f",
                step, time.monotonic() - start, terms["loss"].item(), v["loss"], v["l1"],
                v["sdr"], v["acc"],
            )  # fmt: skip
            if v["loss"] < best:
                best, best_step = v["loss"], step
                sep.save(out)
        if over:
            log.warning("stopped at step %d of %d: %.0f min passed", step, opts.steps, opts.minutes)
            break
    log.info("best val loss %.4f at step %d; written to %s", best, best_step, out)
    return {"best_val_loss": best, "best_step": best_step, "seconds": time.monotonic() - start}


def _identities(folder: Path) -> list[str]:
    with open(folder / "manifest.csv", newline="") as f:
        return sorted({row["identity"] for row in csv.DictReader(f)})


def main(argv: Sequence[str] | None = None) -> int:
    from .data import load_gm_beats, split_identities

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voices", type=Path, required=True, help="a make_corpus.py corpus")
    ap.add_argument("--out", type=Path, required=True, help="folder for config + weights")
    ap.add_argument("--beat-cache", type=Path, default=Path("/tmp/sep/beat_cache"))
    ap.add_argument(
        "--gm-beats",
        type=Path,
        nargs="*",
        default=[],
        help="cache folders of bench.gm_beats.family_beats('gm-train', ...): half the beats "
        "are these (the last tenth of each kept for validation)",
    )
    ap.add_argument("--init", type=Path, help="start from the separator saved here")
    defaults = TrainOptions()
    for name in ("steps", "minutes", "batch", "seconds", "lr", "seed", "val_every", "threads"):
        value = getattr(defaults, name)
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    ap.add_argument("--channels", type=int, default=SeparatorConfig().channels)
    ap.add_argument("--hop", type=int, default=SeparatorConfig().hop)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(a.threads)
    opts = TrainOptions(
        steps=a.steps, minutes=a.minutes, batch=a.batch, seconds=a.seconds, lr=a.lr,
        seed=a.seed, val_every=a.val_every, threads=a.threads,
    )  # fmt: skip
    config = SeparatorConfig(channels=a.channels, hop=a.hop)
    train_ids, held_ids = split_identities(_identities(a.voices))
    log.info("held-out identities: %s", ", ".join(held_ids))
    clips = load_voices(a.voices, train_ids, config.n_fft, config.hop)
    val_clips = load_voices(a.voices, held_ids, config.n_fft, config.hop)
    gm = gm_val = None
    if a.gm_beats:
        banks = [load_gm_beats(folder) for folder in a.gm_beats]
        n = min(b.shape[1] for b in banks)
        cuts = [max(1, b.shape[0] // 10) for b in banks]
        gm = np.concatenate([b[:-c, :n] for b, c in zip(banks, cuts, strict=True)])
        gm_val = np.concatenate([b[-c:, :n] for b, c in zip(banks, cuts, strict=True)])
    result = train(clips, val_clips, a.out, opts, config, a.beat_cache, gm, gm_val, a.init)
    log.info("done: %s", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
