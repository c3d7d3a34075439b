"""The tokenizer training stage: a motion VAE + quantizer on random windows of normalised motion.

Loss = reconstruction (L1, L2 or smooth-L1 on all features) + ``joint_weight`` x smooth-L1 on
the root-relative joint positions (the ``ric`` slice) + the quantizer's auxiliary loss
(REFERENCE.md §1). AdamW with linear warm-up, then a constant learning rate; gradient clipping.

Every ``log_every`` steps a line goes to ``metrics.jsonl``; every ``eval_every`` steps (and at
the end) the model is validated on the dataset's ``val`` split (L1 on normalised features, MPJPE
in mm on joints recovered from the features, codebook usage, perplexity) and the weights and
optimiser are saved atomically, so ``--resume`` continues from the last save.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from motionkit.config.run import RunConfig
from motionkit.data.stats import feature_stats
from motionkit.errors import MotionkitError
from motionkit.motion.features import feature_slices
from motionkit.motion.skeleton import skeleton_for_feature_dim
from motionkit.progress import progress_bar
from motionkit.tokenizer import run as run_files
from motionkit.tokenizer.evaluate import evaluate, normalised_clips
from motionkit.tokenizer.vae import reconstruction_loss


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MotionkitError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


class WindowSampler:
    """Random fixed-length windows from normalised clips, gathered in one vectorised step.

    Args:
        clips: ``(T_i, F)`` normalised features.
        window: frames per window; clips shorter than it are not used.
    """

    def __init__(self, clips: list[np.ndarray], window: int, seed: int) -> None:
        usable = [c for c in clips if len(c) >= window]
        if not usable:
            longest = max((len(c) for c in clips), default=0)
            raise MotionkitError(
                f"no clip has {window} frames (longest: {longest}); pass a smaller --window"
            )
        self.window = window
        self.frames = np.concatenate(usable).astype(np.float32)
        offsets = np.cumsum([0] + [len(c) for c in usable[:-1]])
        # every valid window start, so that each frame position is equally likely
        self.starts = np.concatenate(
            [o + np.arange(len(c) - window + 1) for o, c in zip(offsets, usable, strict=True)]
        )
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> torch.Tensor:
        starts = self.rng.choice(self.starts, size=batch_size)
        index = starts[:, None] + np.arange(self.window)[None, :]
        return torch.from_numpy(self.frames[index])


def _log(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / run_files.METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def train_tokenizer(config: RunConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train (or resume) the tokenizer of ``config`` into ``run_dir``; returns final val metrics."""
    train_cfg = config["train"]
    torch.manual_seed(train_cfg.seed)
    device = pick_device(train_cfg.device)

    data_cfg = config["dataset"]
    train_set = data_cfg.build()
    if not train_set.clips:
        raise MotionkitError(f"dataset split {data_cfg.split!r} has no clips")
    try:
        val_set = dataclasses.replace(data_cfg, split="val").build()
    except MotionkitError:
        val_set = None  # no val split: validate on a slice of the training clips
    if resume:
        mean = run_files.load_npy(run_dir / run_files.MEAN_FILE)
        std = run_files.load_npy(run_dir / run_files.STD_FILE)
    elif train_set.mean is not None and train_set.std is not None:
        mean, std = train_set.mean, train_set.std
    else:
        mean, std = feature_stats([c.features for c in train_set.clips])
    run_files.save_stats(run_dir, mean, std)

    model = run_files.build_vae(config, train_set.feature_dim).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train_cfg.lr, betas=(0.9, 0.99), weight_decay=train_cfg.weight_decay
    )
    step = 0
    if resume:
        model.load_state_dict(run_files.load_file(run_dir / run_files.MODEL_FILE, device="cpu"))
        step = run_files.load_optimizer(run_dir, optimizer)
    window = train_cfg.window - train_cfg.window % model.frames_per_token
    sampler = WindowSampler(
        normalised_clips(train_set, mean, std), window, seed=train_cfg.seed + step
    )
    val_clips = normalised_clips(val_set if val_set else train_set, mean, std)[:256]
    ric = feature_slices(skeleton_for_feature_dim(train_set.feature_dim))["ric"]
    model_cfg = config["model"]

    def lr_at(s: int) -> float:
        return train_cfg.lr * min(1.0, (s + 1) / max(1, train_cfg.warmup_steps))

    metrics: dict[str, float] = {}
    if step == 0:
        # Learned codebooks (k-means init) initialise on the first batch they see: make that a
        # training batch, not the single clips of the baseline validation below.
        model.train()
        with torch.no_grad():
            model(sampler.sample(train_cfg.batch_size).to(device))
        # the untrained baseline, so that a run shows what training bought
        _log(run_dir, {"step": 0, "split": "val", **evaluate(model, val_clips, mean, std, device)})
    started, first_step = time.perf_counter(), step
    model.train()
    with progress_bar("training tokenizer", train_cfg.max_steps) as advance:
        advance(step)
        while step < train_cfg.max_steps:
            x = sampler.sample(train_cfg.batch_size).to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            out = model(x)
            recon = reconstruction_loss(out.reconstruction, x, model_cfg.recon_loss)
            joints = F.smooth_l1_loss(out.reconstruction[..., ric], x[..., ric])
            loss = recon + model_cfg.joint_weight * joints + out.quantizer.aux_loss
            if not torch.isfinite(loss):
                raise MotionkitError(
                    f"loss became {loss.item()} at step {step}; lower --lr or check the data"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if train_cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
            optimizer.step()
            step += 1
            advance(1)
            if step % train_cfg.log_every == 0 or step == train_cfg.max_steps:
                _log(
                    run_dir,
                    {
                        "step": step,
                        "split": "train",
                        "loss": loss.item(),
                        "recon": recon.item(),
                        "joints": joints.item(),
                        "aux": out.quantizer.aux_loss.detach().item(),
                        "lr": lr_at(step - 1),
                        "frames_per_s": (step - first_step)
                        * train_cfg.batch_size
                        * window
                        / max(time.perf_counter() - started, 1e-9),
                        **{f"batch_{k}": v for k, v in out.quantizer.stats.items()},
                    },
                )
            if step % train_cfg.eval_every == 0 or step == train_cfg.max_steps:
                metrics = evaluate(model, val_clips, mean, std, device)
                _log(run_dir, {"step": step, "split": "val", **metrics})
                run_files.save_weights(run_dir / run_files.MODEL_FILE, model)
                run_files.save_optimizer(run_dir, optimizer, step)
    return metrics
