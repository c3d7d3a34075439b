"""The tokenizer training stage as a ``train.Task``: a motion VAE + quantizer on motion windows.

Loss = reconstruction (L1, L2 or smooth-L1 on all features) + ``joint_weight`` x smooth-L1 on
the root-relative joint positions (the ``ric`` slice) + the quantizer's auxiliary loss
(REFERENCE.md §1). Batches are random fixed-length windows of normalised clips. Validation on the
dataset's ``val`` split (or the first training clips when there is none): L1 on normalised
features, MPJPE in mm on joints recovered from the features, codebook usage, perplexity.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from motionkit.config.run import RunConfig
from motionkit.data.humanml3d import MotionDataset
from motionkit.data.stats import feature_stats
from motionkit.errors import MotionkitError
from motionkit.motion.features import feature_slices
from motionkit.motion.skeleton import skeleton_for_feature_dim
from motionkit.tokenizer import run as run_files
from motionkit.tokenizer.evaluate import evaluate, normalised_clips
from motionkit.tokenizer.vae import reconstruction_loss
from motionkit.train import distributed
from motionkit.train.loop import fit, pick_device

#: validation clips used at most (whole clips, one at a time)
VAL_CLIPS = 256


class WindowSampler:
    """Random fixed-length windows from normalised clips, gathered in one vectorised step.

    Args:
        clips: ``(T_i, F)`` normalised features.
        window: frames per window; clips shorter than it are not used.
        seed: seed of the sampler's own generator (its state is saved with checkpoints).
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


def split_or_none(data_cfg: Any, split: str) -> MotionDataset | None:
    """The dataset of ``data_cfg`` on another split, or None when that split does not exist."""
    try:
        return dataclasses.replace(data_cfg, split=split).build()
    except MotionkitError:
        return None


class TokenizerTask:
    """Motion VAE training on random windows (see the module docstring)."""

    label = "training tokenizer"
    unit = "frames"
    best_metric = ("mpjpe_mm", "min")

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool) -> None:
        self.train_cfg = train_cfg = config["train"]
        self.model_cfg = config["model"]
        self.device = pick_device(train_cfg.device)
        data_cfg = config["dataset"]
        train_set = data_cfg.build()
        if not train_set.clips:
            raise MotionkitError(f"dataset split {data_cfg.split!r} has no clips")
        val_set = split_or_none(data_cfg, "val")
        if resume:
            mean = run_files.load_npy(run_dir / run_files.MEAN_FILE)
            std = run_files.load_npy(run_dir / run_files.STD_FILE)
        elif train_set.mean is not None and train_set.std is not None:
            mean, std = train_set.mean, train_set.std
        else:
            mean, std = feature_stats([c.features for c in train_set.clips])
        run_files.save_stats(run_dir, mean, std)
        self.mean, self.std = mean, std
        torch.manual_seed(train_cfg.seed)  # right before the model: nothing above draws from it
        self.model = run_files.build_vae(config, train_set.feature_dim).to(self.device)
        window = train_cfg.window - train_cfg.window % self.model.frames_per_token
        self.sampler = WindowSampler(
            normalised_clips(train_set, mean, std), window, seed=train_cfg.seed
        )
        self.val_clips = normalised_clips(val_set or train_set, mean, std)[:VAL_CLIPS]
        self.ric = feature_slices(skeleton_for_feature_dim(train_set.feature_dim))["ric"]

    def next_batch(self) -> torch.Tensor:
        return self.sampler.sample(self.train_cfg.batch_size).to(self.device)

    def count(self, batch: torch.Tensor) -> int:
        return int(batch.shape[0] * batch.shape[1])

    def loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.model(batch)
        recon = reconstruction_loss(out.reconstruction, batch, self.model_cfg.recon_loss)
        joints = F.smooth_l1_loss(out.reconstruction[..., self.ric], batch[..., self.ric])
        loss = recon + self.model_cfg.joint_weight * joints + out.quantizer.aux_loss
        parts = {
            "recon": recon.item(),
            "joints": joints.item(),
            "aux": out.quantizer.aux_loss.detach().item(),
            **{f"batch_{k}": v for k, v in out.quantizer.stats.items()},
        }
        return loss, parts

    def validate(self) -> dict[str, float]:
        return evaluate(self.model, self.val_clips, self.mean, self.std, self.device)

    def before_training(self) -> None:
        # Learned codebooks (k-means init) initialise on the first batch they see: make that a
        # training batch, not the single clips of the baseline validation. On several processes
        # each sees its slice, as in training: a codebook that syncs its statistics across
        # processes then counts the global batch once.
        here = distributed.world()
        self.model.train()
        with torch.no_grad():
            self.model(distributed.shard(self.next_batch(), here.rank, here.size))

    def sampler_state(self) -> dict[str, Any]:
        return {"rng": self.sampler.rng.bit_generator.state}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.sampler.rng.bit_generator.state = state["rng"]


def train_tokenizer(config: RunConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train (or resume) the tokenizer of ``config`` into ``run_dir``; returns final val metrics."""
    with distributed.main_first():  # rank 0 writes the feature statistics first
        task = TokenizerTask(config, run_dir, resume=resume)
    return fit(task, config["train"], run_dir, resume=resume)
