"""Checkpoint files of a training run, shared by every stage.

```
RUN/
  model.safetensors  the trained module's weights
  optim.safetensors  optimiser tensors and the torch RNG state
  optim.json         step, optimiser parameter groups and scalars, the data sampler's state
  metrics.jsonl      one JSON object per logged step or validation
```

Every file is written atomically (temporary file, fsync, rename), so a run killed at any moment
keeps its previous complete checkpoint. Loading never unpickles: tensors are safetensors, the rest
JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_bytes, atomic_write_text

MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optim.safetensors"
OPTIM_META = "optim.json"
METRICS_FILE = "metrics.jsonl"
_RNG_KEY = "__torch_rng_state__"

__all__ = [
    "METRICS_FILE",
    "MODEL_FILE",
    "OPTIM_FILE",
    "OPTIM_META",
    "Checkpoint",
    "append_metrics",
    "load_checkpoint",
    "load_weights",
    "save_checkpoint",
    "save_weights",
]


def save_weights(path: Path, module: torch.nn.Module) -> None:
    """Atomically write a module's state dict as safetensors (shared tensors are copied)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, save(tensors))


def load_weights(path: Path, module: torch.nn.Module, *, what: str = "weights") -> None:
    """Load safetensors weights into ``module``; a mismatch or a corrupt file is one line."""
    if not path.is_file():
        raise MotionkitError(f"{path} not found; is this a finished training run?")
    try:
        state = load_file(path)
        module.load_state_dict(state)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MotionkitError(f"{what} in {path} do not match its config.json: {reason}") from None


class Checkpoint(dict):
    """What ``load_checkpoint`` restores besides the tensors: ``step`` and ``sampler`` state."""


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    sampler_state: dict[str, Any] | None = None,
) -> None:
    """Weights, optimiser, RNG and sampler state of ``step``; the JSON (step) is written last."""
    save_weights(run_dir / MODEL_FILE, model)
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {_RNG_KEY: torch.get_rng_state()}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    atomic_write_bytes(run_dir / OPTIM_FILE, save(tensors))
    meta = {
        "step": step,
        "param_groups": state["param_groups"],
        "scalars": scalars,
        "sampler": sampler_state or {},
    }
    atomic_write_text(run_dir / OPTIM_META, json.dumps(meta, indent=2) + "\n")


def load_checkpoint(
    run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> Checkpoint:
    """Restore what ``save_checkpoint`` wrote; returns ``{"step": ..., "sampler": ...}``."""
    load_weights(run_dir / MODEL_FILE, model)
    try:
        meta = json.loads((run_dir / OPTIM_META).read_text(encoding="utf-8"))
        tensors = load_file(run_dir / OPTIM_FILE)
        rng = tensors.pop(_RNG_KEY, None)
        state: dict[int, dict[str, Any]] = {}
        for key, value in list(tensors.items()) + list(meta["scalars"].items()):
            index, _, name = key.partition(".")
            state.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        step = int(meta["step"])
    except (OSError, ValueError, KeyError, RuntimeError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MotionkitError(
            f"cannot resume from {run_dir}: its optimiser state is unreadable ({reason}); "
            "start a new run with another --out"
        ) from None
    if rng is not None:
        torch.set_rng_state(rng)
    return Checkpoint(step=step, sampler=meta.get("sampler", {}))


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run's ``metrics.jsonl``."""
    with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
