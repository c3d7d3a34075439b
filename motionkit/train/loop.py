"""One training loop for every stage: ``fit(task, train_config, run_dir)``.

The loop is a plain recipe with no callbacks: AdamW over the task model's trainable parameters,
linear warm-up then a constant or cosine learning rate, gradient accumulation and clipping, bf16
autocast on CUDA, optional ``torch.compile`` and EMA of the weights, a metrics line every
``log_every`` steps, validation every ``eval_every`` steps (and at ``log_evals`` log-spaced
steps), an atomic checkpoint with every validation or every ``checkpoint_every`` steps
(``train.checkpoint``), the last ``keep_last`` and the best of them kept. ``resume=True`` restores
weights, optimiser, EMA, step, the torch RNG and the task's data-sampler state, so the data order
continues where it stopped and the result is bit-identical to an uninterrupted run.

SIGINT and SIGTERM finish the current step, save the resume point and raise
``TrainingInterrupted`` (the command line prints how to resume). Under ``torchrun`` the loop
trains data-parallel (``train.distributed``): DistributedDataParallel over the task's loss,
every rank drawing the same global batch and keeping its slice; with ``--fsdp`` the model is
sharded instead (FSDP2), and checkpoints gather the whole weights so they resume anywhere.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from motionkit.errors import MotionkitError, TrainingInterrupted
from motionkit.progress import progress_bar
from motionkit.train import distributed
from motionkit.train.checkpoint import (
    append_metrics,
    load_checkpoint,
    mark_best,
    save_checkpoint,
    truncate_metrics,
)
from motionkit.train.config import TrainConfig
from motionkit.train.task import Task


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a one-line error.
    In a distributed run ``cuda`` is this process's GPU (``LOCAL_RANK``)."""
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif name == "cuda" and not torch.cuda.is_available():
        raise MotionkitError("--device cuda was asked for but no CUDA device is available")
    else:
        device = torch.device(name)
    return distributed.device_for(device)


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


class EMA:
    """Exponential moving average of a module's floating-point state (buffers are copied)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = model
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self) -> None:
        for name, value in self.model.state_dict().items():
            average = self.shadow[name]
            if value.is_floating_point():
                average.lerp_(value.detach(), 1.0 - self.decay)
            else:
                average.copy_(value)

    def load(self, state: dict[str, torch.Tensor]) -> None:
        for name, value in state.items():
            if name in self.shadow:
                self.shadow[name].copy_(value)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """The averaged weights in the model for the duration of the block."""
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            self.model.load_state_dict(live)


class _StopSignals:
    """SIGINT/SIGTERM set a flag that the loop checks after each step (main thread only); a
    second signal of the same kind gets the default behaviour."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signal.Signals(signum).name
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _TaskLoss(torch.nn.Module):
    """The task's loss as a module, so DistributedDataParallel can wrap it (tasks call several
    methods of their model, not only ``forward``)."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.model = task.model
        self.task = task

    def forward(self, batch: Any) -> Any:
        return self.task.loss(batch)


def _precision(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.precision == "bf16" and device.type != "cuda":
        raise MotionkitError(
            "--precision bf16 autocasts on CUDA only; on a CPU bf16 is several times slower, "
            "train with --precision fp32 (or auto)"
        )
    if cfg.precision == "fp32" or device.type != "cuda":
        return None
    return torch.bfloat16


def _quiet_progress(label: str, total: int) -> Any:
    @contextlib.contextmanager
    def nothing() -> Iterator[Any]:
        yield lambda n=1: None

    return nothing()


def fit(task: Task, cfg: TrainConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train ``task`` up to ``cfg.max_steps`` into ``run_dir``; returns the last validation
    (on rank 0; other ranks of a distributed run may return ``{}``)."""
    here = distributed.world()
    model = task.model
    device = task.device
    if here.distributed and not getattr(task, "distributable", True):
        raise MotionkitError(
            f"{task.label} cannot train on several processes (its loss couples the whole batch); "
            "run it without torchrun"
        )
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    autocast = _precision(cfg, device)
    fsdp = cfg.fsdp
    if fsdp and not here.distributed:
        raise MotionkitError(
            "--fsdp shards the model over several processes: start the run with "
            "torchrun --nproc-per-node N -m motionkit train ... (N >= 2)"
        )
    if fsdp and cfg.ema > 0:
        raise MotionkitError("--ema is not supported with --fsdp yet; train with one of them")
    step = 0
    checkpoint = None
    if resume:  # weights first, into the whole model (it is sharded below)
        checkpoint = load_checkpoint(run_dir, model, None)
        step = checkpoint["step"]
    if fsdp:
        distributed.fully_shard_model(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay
    )
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    best_key, best_mode = getattr(task, "best_metric", (None, "min"))
    best: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    # validation runs on rank 0 alone, except under FSDP where every rank holds a shard
    validates = here.main or fsdp
    if checkpoint is not None:
        if fsdp:
            distributed.load_full_optimizer_state(model, optimizer, checkpoint["optimizer"])
        else:
            optimizer.load_state_dict(checkpoint["optimizer"])
        task.load_sampler_state(checkpoint["sampler"])
        best = dict(checkpoint["meta"].get("best", {}))
        if ema is not None:
            if checkpoint["ema"] is None:
                raise MotionkitError(
                    f"{run_dir} was trained without --ema; resume it without --ema"
                )
            ema.load(checkpoint["ema"])
        if here.main:
            truncate_metrics(run_dir, step)
    else:
        task.before_training()
        if ema is not None:
            ema = EMA(model, cfg.ema)  # start from the weights after any data initialisation
        if validates:
            metrics = _validate(task, ema)
        if here.main:
            append_metrics(run_dir, {"step": 0, "split": "val", **metrics})
        distributed.barrier()
    if cfg.compile:
        model.compile()
    loss_module: Any = _TaskLoss(task)
    if here.distributed and not fsdp:
        ids = [device.index] if device.type == "cuda" else None
        loss_module = torch.nn.parallel.DistributedDataParallel(loss_module, device_ids=ids)
    writer = _tensorboard(run_dir) if cfg.tensorboard and here.main else None

    def log(record: dict[str, Any]) -> None:
        append_metrics(run_dir, record)
        if writer is not None:
            for key, value in record.items():
                if key not in ("step", "split") and isinstance(value, int | float):
                    writer.add_scalar(f"{record['split']}/{key}", value, record["step"])
            writer.flush()

    def checkpoint(at: int) -> None:
        states = distributed.full_states(model, optimizer) if fsdp else None
        if here.main:
            save_checkpoint(
                run_dir, model, optimizer, at, task.sampler_state(),
                ema=ema.shadow if ema else None, meta={"best": best}, keep_last=cfg.keep_last,
                states=states,
            )  # fmt: skip
        distributed.barrier()

    model.train()
    extra_evals = validation_steps(cfg)
    started, first_step, seen = time.perf_counter(), step, 0
    bar = progress_bar if here.main else _quiet_progress
    with _StopSignals() as stop, bar(task.label, cfg.max_steps) as advance:
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
                local = distributed.shard(batch, here.rank, here.size)
                scale = 1.0
                if here.distributed and hasattr(task, "units"):
                    units = float(task.units(local))
                    scale = units * here.size / max(distributed.total(units, device), 1.0)
                with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                    loss, logged = loss_module(local)
                if not torch.isfinite(loss):
                    raise MotionkitError(
                        f"loss became {loss.item()} at step {step}; lower --lr or check the data"
                    )
                (loss * (scale / cfg.grad_accum)).backward()
                total += loss.item() / cfg.grad_accum
                for key, value in logged.items():
                    parts[key] = parts.get(key, 0.0) + value / cfg.grad_accum
            if cfg.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                full = getattr(norm, "full_tensor", None)  # a DTensor under FSDP
                parts["grad_norm"] = float(full() if full else norm)
            optimizer.step()
            if ema is not None:
                ema.update()
            step += 1
            advance(1)
            if here.main and (step % cfg.log_every == 0 or step == cfg.max_steps):
                rate = seen / max(time.perf_counter() - started, 1e-9)
                record = {"step": step, "split": "train", "loss": total, **parts, "lr": lr}
                record[f"{task.unit}_per_s"] = rate
                record["steps_done"] = step - first_step
                log(record)
            saved = False
            if step % cfg.eval_every == 0 or step == cfg.max_steps or step in extra_evals:
                improved = False
                if validates:
                    metrics = _validate(task, ema)
                if here.main:
                    log({"step": step, "split": "val", **metrics})
                    improved = _improved(metrics, best, best_key, best_mode)
                    if improved:
                        best = {"step": step, "metric": best_key, best_key: metrics[best_key]}
                checkpoint(step)
                saved = True
                if improved:
                    mark_best(run_dir)
            elif cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                checkpoint(step)
                saved = True
            if distributed.any_rank(stop.received is not None, device):
                if not saved:
                    checkpoint(step)
                if writer is not None:
                    writer.close()
                name = stop.received or "a signal on another rank"
                raise TrainingInterrupted(
                    f"stopped by {name} after step {step} of {cfg.max_steps}; its checkpoint is "
                    f"saved in {run_dir}: continue with --resume on the same --out",
                    step,
                    stop.received or "SIGTERM",
                )
    if writer is not None:
        writer.close()
    return metrics


def _improved(metrics: dict[str, float], best: dict[str, Any], key: str | None, mode: str) -> bool:
    if key is None or key not in metrics or not math.isfinite(metrics[key]):
        return False
    if key not in best:
        return True
    return metrics[key] < best[key] if mode == "min" else metrics[key] > best[key]


def _tensorboard(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MotionkitError(
            "--tensorboard needs the tensorboard package: pip install 'motionkit[tensorboard]'"
        ) from None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def _validate(task: Task, ema: EMA | None = None) -> dict[str, float]:
    was_training = task.model.training
    task.model.eval()
    try:
        with torch.no_grad(), ema.swapped() if ema is not None else contextlib.nullcontext():
            return task.validate()
    finally:
        task.model.train(was_training)
