"""Optimisation settings shared by both training stages (tokenizer and generator)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from motionkit.config.fields import option


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, batching and schedule of a training run."""

    seed: int = option(0, help="random seed for initialisation, sampling and data order")
    max_steps: int = option(100_000, help="number of optimisation steps to run")
    batch_size: int = option(256, help="clips (windows) per optimisation step")
    window: int = option(64, help="frames per random training window (tokenizer stage)")
    lr: float = option(2e-4, help="peak AdamW learning rate")
    beta1: float = option(0.9, help="AdamW beta1")
    beta2: float = option(0.99, help="AdamW beta2")
    weight_decay: float = option(0.0, help="AdamW weight decay")
    warmup_steps: int = option(1000, help="linear learning-rate warm-up steps")
    schedule: Literal["constant", "cosine"] = option(
        "constant", help="learning rate after the warm-up: constant, or cosine decay to the floor"
    )
    min_lr_ratio: float = option(0.1, help="cosine schedule: final learning rate / peak")
    grad_accum: int = option(1, help="micro-batches accumulated per optimisation step")
    grad_clip: float = option(1.0, help="clip the global gradient norm to this (0 disables)")
    eval_every: int = option(1000, help="validate every this many steps")
    log_evals: int = option(
        0, help="also validate at this many log-spaced steps (loss-vs-compute curves for scaling)"
    )
    log_every: int = option(50, help="append a metrics line every this many steps")
    device: Literal["auto", "cpu", "cuda"] = option(
        "auto", help="where to train (auto: cuda when available)"
    )
    precision: Literal["auto", "fp32", "bf16"] = option(
        "auto", help="bf16: autocast on CUDA; auto: bf16 on CUDA, fp32 on CPU (bf16 is slow there)"
    )
    checkpoint_every: int = option(
        0, help="save the resume point every this many steps (0: with every validation)"
    )
    keep_last: int = option(3, help="past resume points kept in RUN/checkpoints (0: none)")
    ema: float = option(
        0.0, help="EMA decay of the weights, e.g. 0.999 (0: off); validation and saved model use it"
    )
    compile: bool = option(False, help="torch.compile the model's forward")
    fsdp: bool = option(
        False, help="shard weights, gradients and optimiser state over torchrun's processes (FSDP2)"
    )
    deterministic: bool = option(
        False, help="deterministic kernels only (CUDA; CPU training is deterministic already)"
    )
    tensorboard: bool = option(False, help="also log metrics to RUN/tensorboard")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "max_steps": 20,
            "batch_size": 8,
            "lr": 1e-3,
            "window": 32,
            "warmup_steps": 2,
            "eval_every": 10,
            "log_every": 5,
        },
    }

    def __post_init__(self) -> None:
        positive = ("max_steps", "batch_size", "window", "eval_every", "log_every", "grad_accum")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        for name in ("weight_decay", "grad_clip", "warmup_steps", "log_evals", "checkpoint_every",
                     "keep_last"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        for name in ("beta1", "beta2", "min_lr_ratio"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
