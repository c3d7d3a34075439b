"""Sampling motion tokens from a generator, and turning them into motion files.

``sample_tokens`` decodes every backbone the same way: one batched prefill of the text
(``Backbone.start``), then KV-cached incremental steps (``Backbone.step``). Finished rows (END
sampled, or the maximum length reached) leave the batch (``Backbone.select``) and stop costing
compute. Decoding: greedy, or temperature with top-k and top-p (nucleus) filtering;
classifier-free guidance mixes conditional and unconditional logits
``u + scale * (c - u)`` (the unconditional caption is the empty string the generator was trained
with, see ``GeneratorConfig.text_drop``). Minimum and maximum lengths, or one exact length per row
(the ground-truth-length protocol of evaluations), are enforced on END. Every row draws its noise
from its own generator seeded with its seed, so a seed gives the same tokens whatever else is in
the batch.

Python API in two lines::

    from motionkit.generate import generate
    motions = generate("runs/demo", ["a person walks forward"], num=2, out="samples")
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from motionkit.errors import MotionkitError

if TYPE_CHECKING:
    import torch

    from motionkit.generator.model import LoadedGenerator, TextToMotion
    from motionkit.text.base import TextFeatures


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn.

    Attributes:
        greedy: take the most likely token (temperature, top-k and top-p are then ignored).
        temperature: divides the logits; below 1 sharpens, above 1 flattens.
        top_k: keep only the k most likely tokens (0: all).
        top_p: keep the smallest set of tokens whose probability reaches p (1: all).
        cfg_scale: classifier-free guidance scale (1: plain conditional sampling).
        min_tokens: END is refused before this many motion tokens.
        max_tokens: END is forced after this many motion tokens (None: the backbone's maximum).
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    cfg_scale: float = 1.0
    min_tokens: int = 1
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise MotionkitError(f"--temperature must be positive, got {self.temperature}")
        if self.top_k < 0:
            raise MotionkitError(f"--top-k must not be negative, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise MotionkitError(f"--top-p must be in (0, 1], got {self.top_p}")
        if not (self.cfg_scale >= 0 and math.isfinite(self.cfg_scale)):
            raise MotionkitError(f"--cfg-scale must not be negative, got {self.cfg_scale}")
        if self.min_tokens < 0:
            raise MotionkitError(f"--min-tokens must not be negative, got {self.min_tokens}")
        if self.max_tokens is not None and self.max_tokens < max(1, self.min_tokens):
            raise MotionkitError(
                f"--max-tokens ({self.max_tokens}) must be at least 1 and --min-tokens "
                f"({self.min_tokens})"
            )


def _stack_text(a: TextFeatures, b: TextFeatures) -> TextFeatures:
    """Rows of ``a`` then rows of ``b``, padded to one length."""
    import torch
    import torch.nn.functional as F

    from motionkit.text.base import TextFeatures

    length = max(a.features.shape[1], b.features.shape[1])

    def pad(t: TextFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        extra = length - t.features.shape[1]
        return F.pad(t.features, (0, 0, 0, extra)), F.pad(t.mask, (0, extra), value=False)

    (fa, ma), (fb, mb) = pad(a), pad(b)
    return TextFeatures(torch.cat([fa, fb]), torch.cat([ma, mb]), torch.cat([a.pooled, b.pooled]))


def _filter(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set the logits outside top-k / top-p to -inf (last dim)."""
    import torch

    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs >= top_p  # the first token is always kept
        drop = torch.zeros_like(drop).scatter(-1, order, drop)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_tokens(
    model: TextToMotion,
    captions: Sequence[str],
    settings: Sampling = Sampling(),
    *,
    seeds: Sequence[int] | int = 0,
    lengths: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Motion tokens for each caption: int64 ``(T_i,)`` (or ``(T_i, Q)``), END excluded.

    Args:
        seeds: one seed per caption, or a base seed (row ``i`` gets ``seed + i``).
        lengths: an exact number of tokens per row (END refused before, forced at it);
            overrides ``min_tokens`` / ``max_tokens``.
    """
    import torch

    captions = list(captions)
    batch = len(captions)
    if batch == 0:
        return []
    row_seeds = [seeds + i for i in range(batch)] if isinstance(seeds, int) else list(seeds)
    if len(row_seeds) != batch:
        raise MotionkitError(f"{batch} captions but {len(row_seeds)} seeds")
    backbone, vocab = model.backbone, model.vocab
    limit = backbone.max_motion_tokens - 1
    if settings.max_tokens is not None and settings.max_tokens > limit:
        raise MotionkitError(
            f"--max-tokens {settings.max_tokens} is more than this generator makes ({limit} "
            "tokens before END; see its max_motion_tokens)"
        )
    top = settings.max_tokens or limit
    if lengths is not None:
        if len(lengths) != batch or min(lengths) < 1 or max(lengths) > limit:
            raise MotionkitError(f"lengths must be {batch} values between 1 and {limit}")
        low = torch.tensor(list(lengths))
        high = low.clone()
    else:
        low = torch.full((batch,), min(settings.min_tokens, top))
        high = torch.full((batch,), top)
    generators = [torch.Generator().manual_seed(int(s)) for s in row_seeds]
    guided = settings.cfg_scale != 1.0
    out: list[list[torch.Tensor]] = [[] for _ in range(batch)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        text = model.encode_text(captions)
        if guided:
            empty = model.encode_text([""])
            empty = empty.index(torch.zeros(batch, dtype=torch.long, device=empty.mask.device))
            text = _stack_text(text, empty)
        logits, state = backbone.start(text)
        active = torch.arange(batch)
        for t in range(top + 1):
            logits = logits.float()
            if guided:
                n = len(active)
                cond, uncond = logits[:n], logits[n:]
                logits = uncond + settings.cfg_scale * (cond - uncond)
            if logits.dim() == 2:
                logits = logits.unsqueeze(1)  # (A, Q, V+1)
            logits = logits.clone()
            logits[:, 1:, vocab.end] = float("-inf")  # END is decided by the first level
            logits[t < low[active], 0, vocab.end] = float("-inf")
            chosen = _choose(logits, settings, [generators[int(r)] for r in active])
            ended = (chosen[:, 0] == vocab.end) | (t >= high[active])
            keep = (~ended).nonzero().squeeze(1)
            for local in keep.tolist():
                out[int(active[local])].append(chosen[local].cpu())
            if len(keep) == 0:
                break
            if len(keep) < len(active):
                rows = torch.cat([keep, keep + len(active)]) if guided else keep
                state = backbone.select(state, rows.to(logits.device))
                active = active[keep]
            step_tokens = chosen[keep]
            if vocab.num_codebooks == 1:
                step_tokens = step_tokens[:, 0]
            if guided:
                step_tokens = torch.cat([step_tokens, step_tokens])
            logits, state = backbone.step(step_tokens, state)
    model.train(was_training)
    shape = () if vocab.num_codebooks == 1 else (vocab.num_codebooks,)
    return [
        torch.stack(row).numpy().reshape(-1, *shape) if row else np.zeros((0, *shape), np.int64)
        for row in out
    ]


def _choose(logits: torch.Tensor, settings: Sampling, generators: list[Any]) -> torch.Tensor:
    """One token per row and level from ``(A, Q, V+1)`` logits (Gumbel-max for sampling)."""
    import torch

    if settings.greedy:
        return logits.argmax(-1)
    logits = _filter(logits / settings.temperature, settings.top_k, settings.top_p)
    shape = logits.shape[1:]
    uniform = torch.stack([torch.rand(shape, generator=g) for g in generators])
    gumbel = -torch.log(-torch.log(uniform.clamp_(1e-20, 1.0 - 1e-7)))
    return (logits + gumbel.to(logits.device)).argmax(-1)


# ------------------------------------------------------------------------------------------------
# From tokens to motion files


@dataclass
class GeneratedMotion:
    """One generated sample.

    Attributes:
        prompt: the caption; ``seed``: its seed; ``tokens``: ``(T'[, Q])`` int64 codes.
        features: ``(T, D)`` raw (de-normalised) features; ``joints``: ``(T, J, 3)`` metres.
        fps: frame rate; ``files``: what ``save`` wrote, by kind.
    """

    prompt: str
    seed: int
    tokens: np.ndarray = field(repr=False)
    features: np.ndarray = field(repr=False)
    joints: np.ndarray = field(repr=False)
    fps: float
    files: dict[str, str] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])


def decode_features(
    loaded: LoadedGenerator, token_lists: Sequence[np.ndarray], batch_size: int = 64
) -> list[np.ndarray]:
    """Raw features ``(T, D)`` float32 of token sequences, decoded together by equal length.

    Sequences of one length go through the tokenizer's decoder as one batch (up to
    ``batch_size``); no padding is involved, so each gets what it would get alone.
    """
    import torch

    from motionkit.batching import equal_length_batches

    arrays = [np.asarray(t, dtype=np.int64) for t in token_lists]
    if any(len(a) == 0 for a in arrays):
        raise MotionkitError("cannot decode an empty token sequence")
    device = next(loaded.tokenizer.parameters()).device
    out: list[np.ndarray | None] = [None] * len(arrays)
    with torch.no_grad():
        for _, rows in equal_length_batches([len(a) for a in arrays], batch_size):
            indices = torch.from_numpy(np.stack([arrays[i] for i in rows])).to(device)
            normalised = loaded.tokenizer.decode(indices).float().cpu().numpy()
            for row, i in enumerate(rows):
                out[i] = (normalised[row] * loaded.std + loaded.mean).astype(np.float32)
    return out  # type: ignore[return-value]


def decode_tokens(loaded: LoadedGenerator, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw features ``(T, D)`` and joints ``(T, J, 3)`` of one token sequence."""
    from motionkit.motion.features import recover_from_ric
    from motionkit.motion.skeleton import skeleton_for_feature_dim

    (features,) = decode_features(loaded, [tokens])
    joints = recover_from_ric(features, skeleton_for_feature_dim(features.shape[-1]))
    return features, joints.astype(np.float32)


def generate(
    run: str | Path | LoadedGenerator,
    prompts: Sequence[str] | str,
    *,
    num: int = 1,
    seed: int = 0,
    settings: Sampling = Sampling(),
    out: str | Path | None = None,
    gif: bool = True,
    bvh: bool = True,
    batch_size: int = 64,
) -> list[GeneratedMotion]:
    """Generate ``num`` motions per prompt; with ``out``, write them and an ``index.json``.

    Sample ``k`` (0-based, prompts in order, ``num`` each) has seed ``seed + k``.
    """
    from motionkit.generator.model import load_generator

    loaded = run if not isinstance(run, (str, Path)) else load_generator(run)
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompts:
        raise MotionkitError("no prompt given: pass a caption or --prompts FILE")
    if num < 1:
        raise MotionkitError(f"--num must be at least 1, got {num}")
    folder = Path(out) if out is not None else None
    captions = [p for p in prompts for _ in range(num)]
    if folder is not None:
        _check_out(folder, len(captions))
    seeds = [seed + k for k in range(len(captions))]
    tokens: list[np.ndarray] = []
    for start in range(0, len(captions), batch_size):
        tokens += sample_tokens(
            loaded.model,
            captions[start : start + batch_size],
            settings,
            seeds=seeds[start : start + batch_size],
        )
    motions = []
    for caption, row_seed, codes in zip(captions, seeds, tokens, strict=True):
        features, joints = decode_tokens(loaded, codes)
        motions.append(GeneratedMotion(caption, row_seed, codes, features, joints, loaded.fps))
    if folder is not None:
        write_samples(folder, motions, loaded, settings, gif=gif, bvh=bvh)
    return motions


def _check_out(folder: Path, count: int) -> None:
    """Refuse, before sampling, an output folder that cannot be written or that holds files
    the samples would replace."""
    from motionkit.io import check_output

    if (folder / "index.json").exists():
        raise MotionkitError(f"{folder} already holds generated motion; choose a new --out")
    check_output(folder, folder=True)
    for number in range(count):
        for suffix in SAMPLE_SUFFIXES:
            if (folder / f"{number:03d}{suffix}").exists():
                raise MotionkitError(
                    f"{folder} already holds {number:03d}{suffix}; choose a new --out or delete "
                    "it (nothing was overwritten)"
                )


#: The files of one sample, after its number.
SAMPLE_SUFFIXES = (".joints.npy", ".features.npy", ".bvh", ".gif")


def write_samples(
    folder: Path,
    motions: list[GeneratedMotion],
    loaded: LoadedGenerator,
    settings: Sampling,
    *,
    gif: bool,
    bvh: bool,
) -> Path:
    """Per sample ``NNN.joints.npy``, ``NNN.features.npy``, ``.bvh``, ``.gif``; then
    ``index.json`` (written last, so a folder with an index is complete)."""
    from motionkit.data.layout import save_npy
    from motionkit.io import atomic_write_text
    from motionkit.progress import progress_bar

    folder.mkdir(parents=True, exist_ok=True)
    with progress_bar("writing samples", len(motions)) as advance:
        for number, motion in enumerate(motions):
            stem = f"{number:03d}"
            save_npy(folder / f"{stem}.joints.npy", motion.joints)
            save_npy(folder / f"{stem}.features.npy", motion.features)
            motion.files = {
                "joints": f"{stem}.joints.npy",
                "features": f"{stem}.features.npy",
            }
            if bvh and motion.joints.shape[1] == 22:
                from motionkit.motion.bvh import write_bvh
                from motionkit.motion.bvh_export import joints_to_bvh

                write_bvh(folder / f"{stem}.bvh", joints_to_bvh(motion.joints, motion.fps))
                motion.files["bvh"] = f"{stem}.bvh"
            if gif:
                _render_gif(folder / f"{stem}.gif", folder / f"{stem}.joints.npy", motion)
                motion.files["gif"] = f"{stem}.gif"
            advance(1)
    index = {
        "run": str(loaded.run_dir),
        "settings": asdict(settings),
        "fps": loaded.fps,
        "samples": [
            {
                "prompt": m.prompt,
                "seed": m.seed,
                "tokens": len(m.tokens),
                "frames": m.num_frames,
                "seconds": m.num_frames / m.fps,
                "files": m.files,
            }
            for m in motions
        ],
    }
    return atomic_write_text(folder / "index.json", json.dumps(index, indent=2) + "\n")


def _render_gif(path: Path, joints_file: Path, motion: GeneratedMotion) -> None:
    from motionkit.viz.motion import load_motion
    from motionkit.viz.render import render

    render(load_motion(joints_file, fps=motion.fps), path, title=motion.prompt)
