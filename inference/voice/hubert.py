"""HuBERT voice encoder: one transformer layer's hidden states, mean-pooled over time.

Loads a ``transformers`` HuBERT checkpoint (hub id or local folder) once, and turns 16 kHz
mono audio into one L2-normalised float32 vector. Long inputs run in chunks so memory stays
bounded. transformers is imported in the constructor only: importing it costs seconds.

This module does not download anything on purpose, fine-tune, or choose a layer from data;
it does not decode or cut audio either (callers hand it voiced 16 kHz audio).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..constants import SAMPLE_RATE
from ..errors import EncoderError
from .base import l2_normalize

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "facebook/hubert-base-ls960"
MIN_CHUNK_SECONDS = 1.0  # shorter chunks starve the transformer of context
_FINGERPRINT_VALUES = 64  # leading values of each weight tensor hashed into the version
_NORM_EPS = 1e-7  # the epsilon Wav2Vec2FeatureExtractor uses for zero-mean/unit-variance
_LOAD_ERRORS = (OSError, ValueError, RuntimeError)
# Only used for masked pretraining; often absent from checkpoints, then randomly initialised.
_TRAINING_ONLY_WEIGHTS = ("masked_spec_embed",)
_HINT = (
    f"download {DEFAULT_SOURCE} (config.json + model.safetensors) on a machine with internet "
    "and pass the folder: --encoder hubert:/path/to/folder"
)


class HubertEncoder:
    """HuBERT embedding: mean over time of hidden layer ``layer``, L2-normalised, (dim,).

    Layer-wise probes of HuBERT-base (SUPERB speaker identification / verification) find
    speaker identity strongest in the lower-middle layers (about 4-6 of 12), while the top
    layers drift toward phonetic content, which is not what a "who does this sound like"
    search wants. So the default is ``num_hidden_layers // 2`` (6 for base), configurable.
    Layers above the chosen one cannot change its output, so they are not run.
    """

    name = "hubert"

    def __init__(
        self,
        source: str = DEFAULT_SOURCE,
        layer: int | None = None,
        device: str = "cpu",
        max_seconds: float = 30.0,
    ) -> None:
        if not max_seconds >= MIN_CHUNK_SECONDS:
            raise EncoderError(
                f"max_seconds must be at least {MIN_CHUNK_SECONDS} (got {max_seconds})"
            )
        model, extractor = _load(source)
        # load_encoder(spec) makes it again in build workers (which check the version: a
        # non-default layer is refused there rather than silently replaced)
        self.spec = f"hubert:{source}"
        config = model.config
        n_layers = int(config.num_hidden_layers)
        self.layer = n_layers // 2 if layer is None else int(layer)
        if not 0 <= self.layer <= n_layers:
            raise EncoderError(f"HuBERT layer must be 0..{n_layers} for {source} (got {layer})")
        self.dim = int(config.hidden_size)
        self._normalize = _wants_normalisation(config, extractor)
        self.version = _version(source, model, self.layer, self._normalize)
        _drop_layers_above(model, self.layer)
        self._model = model.eval().to(device)
        self._device = device
        self._extractor = extractor
        self._chunk_samples = int(max_seconds * SAMPLE_RATE)
        self._min_samples = _receptive_field(config)
        log.info(
            "HuBERT %s loaded: layer %d of %d, dim %d, normalise input %s, version %s",
            source,
            self.layer,
            n_layers,
            self.dim,
            self._normalize,
            self.version,
        )

    def embed(self, wav: np.ndarray) -> np.ndarray:
        """Embed one recording.

        wav: float32 (n_samples,) mono at 16 kHz, at least one frame (25 ms for base) long.
        Returns float32 (dim,), L2 norm 1. Chunks of at most ``max_seconds`` (near-equal
        lengths, so no tiny tail) are pooled together, weighted by their frame counts.
        """
        values = self._prepare(self._checked(wav))
        n_chunks = math.ceil(values.size / self._chunk_samples)
        total = np.zeros(self.dim, dtype=np.float64)
        frames = 0
        for chunk in np.array_split(values, n_chunks):
            states = self._layer_states(chunk)
            total += states.sum(axis=0, dtype=np.float64)
            frames += states.shape[0]
        return l2_normalize(total / frames)

    def embed_batch(self, wavs: Sequence[np.ndarray]) -> np.ndarray:
        """Embed several recordings with one transformer pass over all of them (a GPU batch).

        The same vectors as ``embed`` on each, within float32 rounding: the conv feature
        encoder runs per chunk (in base models its group norm normalises over time, so zero
        padding would change it; it is the cheap part), then the transformer runs once over
        every chunk padded to the longest, with an attention mask. Padded frames are zeroed
        before the positional convolution, exactly like its own zero padding of a lone chunk.
        Returns float32 (len(wavs), dim), each row L2 norm 1.
        """
        rows: list[torch.Tensor] = []
        owner: list[int] = []
        for i, wav in enumerate(wavs):
            values = self._prepare(self._checked(wav))
            for chunk in np.array_split(values, math.ceil(values.size / self._chunk_samples)):
                rows.append(self._projected(chunk))
                owner.append(i)
        totals = np.zeros((len(wavs), self.dim), dtype=np.float64)
        frames = np.zeros(len(wavs), dtype=np.int64)
        for i, states in zip(owner, self._padded_layer_states(rows), strict=True):
            totals[i] += states.sum(axis=0, dtype=np.float64)
            frames[i] += states.shape[0]
        return l2_normalize(totals / frames[:, None])

    def _checked(self, wav: np.ndarray) -> np.ndarray:
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        if wav.ndim != 1 or wav.size < self._min_samples:
            raise ValueError(
                f"embed() takes a 1-D waveform of at least {self._min_samples} samples"
            )
        return wav

    def warmup(self) -> None:
        rng = np.random.default_rng(0)
        self.embed((0.01 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32))

    def _prepare(self, wav: np.ndarray) -> np.ndarray:
        """The model's input values for the whole recording (normalised once, not per chunk)."""
        if self._extractor is not None:
            out = self._extractor(wav, sampling_rate=SAMPLE_RATE, return_tensors="np")
            return np.asarray(out["input_values"][0], dtype=np.float32)
        if not self._normalize:
            return wav
        return ((wav - wav.mean()) / np.sqrt(wav.var() + _NORM_EPS)).astype(np.float32)

    def _projected(self, chunk: np.ndarray) -> torch.Tensor:
        """The transformer's input for one chunk: (frames, hidden) on the model's device."""
        x = torch.from_numpy(np.ascontiguousarray(chunk)).unsqueeze(0).to(self._device)
        with torch.inference_mode():
            features = self._model.feature_extractor(x).transpose(1, 2)
            return self._model.feature_projection(features)[0]

    def _padded_layer_states(self, rows: list[torch.Tensor]) -> list[np.ndarray]:
        """The chosen layer's states of each row, from one masked pass: float32 (frames, dim).

        ``hidden_states[k]`` is the input of transformer layer k (k < number of layers), so
        a pre-hook on that layer reads it; k = number of layers is the encoder's output.
        """
        lengths = [r.shape[0] for r in rows]
        batch = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
        mask = torch.zeros(batch.shape[:2], dtype=torch.bool, device=batch.device)
        for i, n in enumerate(lengths):
            mask[i, :n] = True
        layers = self._model.encoder.layers
        seen: list[torch.Tensor] = []
        hook = None
        if self.layer < len(layers):
            hook = layers[self.layer].register_forward_pre_hook(
                lambda _m, args, kwargs: seen.append(args[0] if args else kwargs["hidden_states"]),
                with_kwargs=True,
            )
        try:
            with torch.inference_mode():
                out = self._model.encoder(batch, attention_mask=mask)
        finally:
            if hook is not None:
                hook.remove()
        states = (seen[0] if seen else out.last_hidden_state).float().cpu().numpy()
        return [states[i, :n] for i, n in enumerate(lengths)]

    def _layer_states(self, chunk: np.ndarray) -> np.ndarray:
        """Hidden states of the chosen layer for one chunk: float32 (frames, dim)."""
        x = torch.from_numpy(np.ascontiguousarray(chunk)).unsqueeze(0).to(self._device)
        with torch.inference_mode():
            out = self._model(input_values=x, output_hidden_states=True)
        return out.hidden_states[self.layer][0].float().cpu().numpy()


def _load(source: str) -> tuple[Any, Any]:
    """The HuBERT model (float32) and its feature extractor (None when it has none)."""
    source = (source or DEFAULT_SOURCE).strip()
    folder = Path(source).expanduser()
    if folder.is_dir():
        source = str(folder)
    elif _looks_like_path(source):
        raise EncoderError(f"no HuBERT folder at {source}: {_HINT}")
    # A cached hub model loads without a network round trip (which, offline, retries ~30 s).
    for local_only in (True, False):
        try:
            model, info = _from_pretrained(source, local_only)
            break
        except _LOAD_ERRORS as e:
            if not local_only or folder.is_dir():
                raise EncoderError(
                    f"cannot load HuBERT from {source} ({_first_line(e)}): {_HINT}"
                ) from e
    missing = sorted(k for k in info.get("missing_keys", ()) if k not in _TRAINING_ONLY_WEIGHTS)
    if missing:
        raise EncoderError(
            f"{source} is not a HuBERT checkpoint ({len(missing)} weights missing, "
            f"e.g. {missing[0]}): {_HINT}"
        )
    return model, _load_extractor(source, local_only)


def _from_pretrained(source: str, local_only: bool) -> tuple[Any, dict[str, Any]]:
    from transformers import HubertModel  # deferred: seconds to import

    loaded: Any = HubertModel.from_pretrained(
        source, local_files_only=local_only, dtype=torch.float32, output_loading_info=True
    )
    model, info = loaded
    return model, info


def _load_extractor(source: str, local_only: bool) -> Any:
    from transformers import Wav2Vec2FeatureExtractor

    try:
        extractor = Wav2Vec2FeatureExtractor.from_pretrained(source, local_files_only=local_only)
    except _LOAD_ERRORS:
        log.info(
            "%s has no feature extractor: normalising input as its config implies",
            source,
        )
        return None
    if extractor.sampling_rate != SAMPLE_RATE:
        raise EncoderError(
            f"{source} expects {extractor.sampling_rate} Hz audio, not {SAMPLE_RATE}"
        )
    return extractor


def _looks_like_path(source: str) -> bool:
    """True for what can only be a folder (a hub id is ``name`` or ``org/name``)."""
    return source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _wants_normalisation(config: Any, extractor: Any) -> bool:
    """Whether input is scaled to zero mean / unit variance before the model.

    The extractor's ``do_normalize`` decides when there is one. Otherwise follow fairseq's
    pretraining: HuBERT-base (group-norm feature encoder) was trained on raw waveforms,
    large/xlarge (layer-norm feature encoder) on normalised ones. Group norm over the first
    conv's output removes the input's gain anyway, so for base the choice barely matters.
    """
    if extractor is not None:
        return bool(extractor.do_normalize)
    return config.feat_extract_norm == "layer"


def _receptive_field(config: Any) -> int:
    """Samples the conv feature encoder needs for one output frame (400 for base)."""
    field, jump = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride, strict=True):
        field += (kernel - 1) * jump
        jump *= stride
    return field


def _drop_layers_above(model: Any, layer: int) -> None:
    """Keep the layers that ``hidden_states[layer]`` depends on, plus one.

    The extra layer keeps the result exact whichever way a transformers version records
    hidden states (layer inputs or outputs; with or without the stable-layer-norm variant's
    final norm on the last entry).
    """
    keep = min(layer + 1, len(model.encoder.layers))
    model.encoder.layers = model.encoder.layers[:keep]


def _version(source: str, model: Any, layer: int, normalize: bool) -> str:
    """``<checkpoint name>|layer<k>|<12 hex>``: changes with weights, config, input scaling, layer.

    The digest covers the config (as saved, without its path or transformers version)
    and the shape and leading values of every weight tensor (in module order; names are
    left out because transformers renames some across versions), so two checkpoints with
    the same config (for example two fine-tunes) still get different versions.
    """
    config = model.config.to_diff_dict()
    for volatile in ("_name_or_path", "transformers_version", "dtype", "torch_dtype"):
        config.pop(volatile, None)
    recipe = {"config": config, "normalize_input": normalize}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        if name in _TRAINING_ONLY_WEIGHTS:
            continue
        head = tensor.detach().flatten()[:_FINGERPRINT_VALUES].float().cpu().numpy()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(head.tobytes())
    label = Path(source.rstrip("/\\")).name or source
    return f"{label}|layer{layer}|{digest.hexdigest()[:12]}"
