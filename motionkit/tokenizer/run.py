"""A tokenizer run directory: build the model from its config, save and load its files.

```
RUN/
  config.json        the frozen RunConfig (stage "tokenizer")
  model.safetensors  MotionVAE weights
  optim.safetensors  optimiser tensors; optim.json: step, parameter groups (for --resume)
  mean.npy std.npy   normalisation statistics the model was trained with
  metrics.jsonl      one JSON object per logged step or validation
```

Loading never unpickles: weights are safetensors, configs JSON, statistics ``.npy`` without
pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

__all__ = ["build_vae", "load_file", "load_optimizer", "load_tokenizer", "save_optimizer"]

from motionkit.config.run import RunConfig
from motionkit.data.layout import load_npy, save_npy
from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_bytes, atomic_write_text
from motionkit.tokenizer.vae import MotionVAE

MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optim.safetensors"
OPTIM_META = "optim.json"
MEAN_FILE = "mean.npy"
STD_FILE = "std.npy"
METRICS_FILE = "metrics.jsonl"


def build_vae(config: RunConfig, feature_dim: int) -> MotionVAE:
    """The motion VAE of a tokenizer run config (random weights)."""
    model_cfg = config["model"]
    quantizer = config["quantizer"].build(dim=model_cfg.dim)
    return MotionVAE(model_cfg, quantizer, feature_dim)


def save_weights(path: Path, module: torch.nn.Module) -> None:
    """Atomically write a module's state dict as safetensors."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, save(tensors))


def save_optimizer(run_dir: Path, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Optimiser tensors as safetensors, the rest (step, groups) as JSON."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    atomic_write_bytes(run_dir / OPTIM_FILE, save(tensors))
    meta = {"step": step, "param_groups": state["param_groups"], "scalars": scalars}
    atomic_write_text(run_dir / OPTIM_META, json.dumps(meta, indent=2) + "\n")


def load_optimizer(run_dir: Path, optimizer: torch.optim.Optimizer) -> int:
    """Restore an optimiser saved by ``save_optimizer``; returns the saved step."""
    try:
        meta = json.loads((run_dir / OPTIM_META).read_text())
        tensors = load_file(run_dir / OPTIM_FILE)
    except (OSError, ValueError) as exc:
        raise MotionkitError(f"cannot resume from {run_dir}: {exc}") from None
    state: dict[int, dict[str, Any]] = {}
    for key, value in list(tensors.items()) + list(meta["scalars"].items()):
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"])


def save_stats(run_dir: Path, mean: np.ndarray, std: np.ndarray) -> None:
    save_npy(run_dir / MEAN_FILE, mean.astype(np.float32))
    save_npy(run_dir / STD_FILE, std.astype(np.float32))


def load_tokenizer(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[MotionVAE, np.ndarray, np.ndarray, RunConfig]:
    """Load a trained tokenizer: ``(model in eval mode, mean, std, config)``."""
    run_dir = Path(run_dir)
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise MotionkitError(
            f"{run_dir} has no {MODEL_FILE}; train one with "
            f"'motionkit train --stage tokenizer --out {run_dir}'"
        )
    config = RunConfig.load(run_dir)
    if config.stage != "tokenizer":
        raise MotionkitError(f"{run_dir} is a {config.stage!r} run, not a tokenizer run")
    mean, std = load_npy(run_dir / MEAN_FILE), load_npy(run_dir / STD_FILE)
    model = build_vae(config, int(mean.shape[0]))
    try:
        state = load_file(weights)
        model.load_state_dict(state)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        raise MotionkitError(f"{weights} does not match its config.json: {reason}") from None
    return model.to(device).eval(), mean, std, config
