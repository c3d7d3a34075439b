"""One training loop for every stage: ``fit(task, train_config, run_dir)``.

The loop is a plain recipe with no callbacks: AdamW over the task model's trainable parameters,
linear warm-up then a constant or cosine learning rate, gradient accumulation and clipping, a
metrics line every ``log_every`` steps, validation and an atomic checkpoint every ``eval_every``
steps and at the end (``train.checkpoint``). ``resume=True`` restores weights, optimiser, step,
the torch RNG and the task's data-sampler state, so the data order continues where it stopped.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from motionkit.errors import MotionkitError
from motionkit.progress import progress_bar
from motionkit.train.checkpoint import (
    append_metrics,
    load_checkpoint,
    save_checkpoint,
    truncate_metrics,
)
from motionkit.train.config import TrainConfig
from motionkit.train.task import Task


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MotionkitError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Learning rate of optimisation step ``step`` (0-based): warm-up, then constant or cosine."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if cfg.schedule == "constant" or step < cfg.warmup_steps:
        return cfg.lr * warm
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def validation_steps(cfg: TrainConfig) -> set[int]:
    """Steps after which the loop validates besides every ``eval_every`` and the last:
    ``log_evals`` log-spaced steps between 1 and ``max_steps``."""
    if cfg.log_evals < 1:
        return set()
    ratio = cfg.max_steps ** (1.0 / max(1, cfg.log_evals - 1)) if cfg.log_evals > 1 else 1.0
    return {max(1, min(cfg.max_steps, round(ratio**i))) for i in range(cfg.log_evals)}


def fit(task: Task, cfg: TrainConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train ``task`` up to ``cfg.max_steps`` into ``run_dir``; returns the last validation."""
    model = task.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay
    )
    step = 0
    metrics: dict[str, float] = {}
    if resume:
        checkpoint = load_checkpoint(run_dir, model, optimizer)
        step = checkpoint["step"]
        task.load_sampler_state(checkpoint["sampler"])
        truncate_metrics(run_dir, step)
    else:
        task.before_training()
        metrics = _validate(task)
        append_metrics(run_dir, {"step": 0, "split": "val", **metrics})
    model.train()
    extra_evals = validation_steps(cfg)
    started, first_step, seen = time.perf_counter(), step, 0
    with progress_bar(task.label, cfg.max_steps) as advance:
        advance(step)
        while step < cfg.max_steps:
            lr = learning_rate(cfg, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            parts: dict[str, float] = {}
            total = 0.0
            for _ in range(cfg.grad_accum):
                batch = task.next_batch()
                seen += task.count(batch)
                loss, logged = task.loss(batch)
                if not torch.isfinite(loss):
                    raise MotionkitError(
                        f"loss became {loss.item()} at step {step}; lower --lr or check the data"
                    )
                (loss / cfg.grad_accum).backward()
                total += loss.item() / cfg.grad_accum
                for key, value in logged.items():
                    parts[key] = parts.get(key, 0.0) + value / cfg.grad_accum
            if cfg.grad_clip > 0:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
                parts["grad_norm"] = grad_norm
            optimizer.step()
            step += 1
            advance(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                rate = seen / max(time.perf_counter() - started, 1e-9)
                record = {"step": step, "split": "train", "loss": total, **parts, "lr": lr}
                record[f"{task.unit}_per_s"] = rate
                record["steps_done"] = step - first_step
                append_metrics(run_dir, record)
            if step % cfg.eval_every == 0 or step == cfg.max_steps or step in extra_evals:
                metrics = _validate(task)
                append_metrics(run_dir, {"step": step, "split": "val", **metrics})
                save_checkpoint(run_dir, model, optimizer, step, task.sampler_state())
    return metrics


def _validate(task: Task) -> dict[str, float]:
    was_training = task.model.training
    task.model.eval()
    try:
        with torch.no_grad():
            return task.validate()
    finally:
        task.model.train(was_training)
