"""Checkpoint files of a training run, shared by every stage.

```
RUN/
  model.safetensors       the trained module's weights (what loading a model reads; the EMA
                          weights when --ema is on)
  checkpoint.safetensors  the resume point: weights, optimiser tensors, EMA weights, RNG states,
                          and in its JSON header the step, optimiser groups, the data sampler's
                          state and the best validation so far
  checkpoints/
    step-00001000.safetensors   the last --keep-last resume points (hard links, no extra space)
    best.safetensors            the resume point of the best validation (and model-best.safetensors
                                beside model.safetensors: its weights)
  metrics.jsonl           one JSON object per logged step or validation
```

The resume point is one file written atomically (temporary file, fsync, rename), so a run killed
at any moment keeps a complete, consistent previous checkpoint: weights, optimiser and sampler
state of one and the same step. Loading never unpickles: tensors are safetensors, the rest JSON
(the safetensors header, readable with any safetensors reader).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_bytes, atomic_write_text

MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.jsonl"
ARCHIVE_DIR = "checkpoints"
BEST_FILE = "best.safetensors"
BEST_MODEL_FILE = "model-best.safetensors"

__all__ = [
    "CHECKPOINT_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "Checkpoint",
    "append_metrics",
    "checkpoint_step",
    "load_checkpoint",
    "load_weights",
    "mark_best",
    "save_checkpoint",
    "save_weights",
    "truncate_metrics",
]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _state_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(path: Path, module: torch.nn.Module) -> None:
    """Atomically write a module's state dict as safetensors (shared tensors are copied)."""
    atomic_write_bytes(path, save(_state_tensors(module)))


def load_weights(path: Path, module: torch.nn.Module, *, what: str = "weights") -> None:
    """Load safetensors weights into ``module``; a mismatch or a corrupt file is one line."""
    if not path.is_file():
        raise MotionkitError(f"{path} not found; is this a finished training run?")
    try:
        module.load_state_dict(load_file(path))
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise MotionkitError(
            f"{what} in {path} do not match its config.json or are corrupt: {_one_line(exc)}"
        ) from None


class Checkpoint(dict):
    """What ``load_checkpoint`` restores besides the tensors: ``step``, ``sampler`` state,
    ``ema`` (the averaged weights, or None) and ``meta`` (e.g. the best validation so far)."""


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    sampler_state: dict[str, Any] | None = None,
    *,
    ema: dict[str, torch.Tensor] | None = None,
    meta: dict[str, Any] | None = None,
    keep_last: int = 0,
    states: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None,
) -> None:
    """Write the resume point of ``step`` (one atomic file), then the model weights (``ema``'s
    when given); keep hard links to the last ``keep_last`` resume points in RUN/checkpoints.
    ``states`` (model and optimiser state dicts) replaces reading them from ``model`` and
    ``optimizer`` (a sharded model gathers them first)."""
    if states is not None:
        weights = {k: v.detach().cpu().contiguous().clone() for k, v in states[0].items()}
        state = states[1]
    else:
        weights, state = _state_tensors(model), optimizer.state_dict()
    tensors = {f"model.{k}": v for k, v in weights.items()}
    for name, value in (ema or {}).items():
        tensors[f"ema.{name}"] = value.detach().cpu().contiguous().clone()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    metadata = {
        "step": str(step),
        "param_groups": json.dumps(state["param_groups"]),
        "scalars": json.dumps(scalars),
        "sampler": json.dumps(sampler_state or {}),
        "meta": json.dumps(meta or {}),
    }
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, save(tensors, metadata=metadata))
    final = ema if ema else weights
    atomic_write_bytes(
        run_dir / MODEL_FILE, save({k: v.cpu().contiguous() for k, v in final.items()})
    )
    if keep_last > 0:
        archive = run_dir / ARCHIVE_DIR
        _link(run_dir / CHECKPOINT_FILE, archive / f"step-{step:08d}.safetensors")
        for old in sorted(archive.glob("step-*.safetensors"))[:-keep_last]:
            old.unlink(missing_ok=True)


def _link(source: Path, target: Path) -> None:
    """Atomically make ``target`` the same file as ``source`` (a hard link, else a copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:  # a filesystem without hard links
        atomic_write_bytes(target, source.read_bytes())
        return
    os.replace(tmp, target)


def mark_best(run_dir: Path) -> None:
    """Keep the current resume point and model weights as the best ones."""
    _link(run_dir / CHECKPOINT_FILE, run_dir / ARCHIVE_DIR / BEST_FILE)
    _link(run_dir / MODEL_FILE, run_dir / BEST_MODEL_FILE)


def checkpoint_step(run_dir: Path) -> int | None:
    """The step of the run's resume point, or None when there is none.

    Raises:
        MotionkitError: the file exists but is unreadable (nothing is overwritten then).
    """
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as handle:
            return int((handle.metadata() or {})["step"])
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise MotionkitError(
            f"{path} is unreadable ({_one_line(exc)}); restore it or start a new run with "
            "another --out (nothing was changed)"
        ) from None


def load_checkpoint(
    run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> Checkpoint:
    """Restore what ``save_checkpoint`` wrote; returns ``{"step": ..., "sampler": ...}``.

    With ``optimizer=None`` the optimiser state is not loaded but returned as ``"optimizer"``
    (for an optimiser built later, over a sharded model)."""
    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        raise MotionkitError(
            f"{run_dir} has no {CHECKPOINT_FILE} to resume from (the run stopped before its "
            "first checkpoint); start it again with a new --out"
        )
    try:
        with safe_open(path, framework="pt") as handle:
            meta = handle.metadata() or {}
        tensors = load_file(path)
        model.load_state_dict(
            {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        )
        state: dict[int, dict[str, Any]] = {}
        optim = [(k[len("optim.") :], v) for k, v in tensors.items() if k.startswith("optim.")]
        for key, value in optim + list(json.loads(meta["scalars"]).items()):
            index, _, name = key.partition(".")
            state.setdefault(int(index), {})[name] = value
        groups = json.loads(meta["param_groups"])
        optim_state = {"state": state, "param_groups": groups}
        if optimizer is not None:
            optimizer.load_state_dict(optim_state)
        step, sampler = int(meta["step"]), json.loads(meta["sampler"])
        extra = json.loads(meta.get("meta", "{}"))
        ema = {k[len("ema.") :]: v for k, v in tensors.items() if k.startswith("ema.")} or None
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise MotionkitError(
            f"cannot resume from {path}: it is unreadable or belongs to another model "
            f"({_one_line(exc)}); start a new run with another --out"
        ) from None
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    return Checkpoint(step=step, sampler=sampler, ema=ema, meta=extra, optimizer=optim_state)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run's ``metrics.jsonl``."""
    with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop the metrics lines logged after ``step`` (a resumed run logs them again)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a kill
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def start_run(
    run_dir: Path, config: Any, *, resume: bool = True, write: bool = True
) -> bool | None:
    """Ready ``run_dir`` to train ``config``, the one decision every trainer of a folder makes.

    Returns None when ``resume`` and the folder's checkpoint already reached
    ``config["train"].max_steps`` (nothing to train); True when ``resume`` and a checkpoint
    exists: the run continues from it, its config is saved again (a raised ``--max-steps`` is part
    of the run from now on) and this process's environment is appended; False otherwise: the run
    starts from step 0 (the metrics of a run killed before its first checkpoint are removed, the
    config and environment written). ``write=False`` only decides (the other processes of a
    distributed run, while rank 0 writes).
    """
    from motionkit.config.run import prepare_run_dir
    from motionkit.provenance import record_environment

    run_dir = Path(run_dir)
    step = checkpoint_step(run_dir) if run_dir.is_dir() else None
    if resume and step is not None:
        if step >= config["train"].max_steps:
            return None
        if write:
            config.save(run_dir)
            record_environment(run_dir)  # appended: the original record stays
        return True
    if write:
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
        prepare_run_dir(run_dir, config, environment=True)
    return False
