"""A tokenizer run directory: build the model from its config, save statistics, load it back.

```
RUN/
  config.json        the frozen RunConfig (stage "tokenizer")
  model.safetensors  MotionVAE weights
  checkpoint.safetensors  the resume point (weights, optimiser, RNG, step, sampler state)
  mean.npy std.npy   normalisation statistics the model was trained with
  metrics.jsonl      one JSON object per logged step or validation
  tokens/            token export (``motionkit tokenize``; computed by the generator stage)
```

Checkpoint files are written by ``motionkit.train.checkpoint``, shared by every stage. Loading
never unpickles: weights are safetensors, configs JSON, statistics ``.npy`` without pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.config.run import RunConfig
from motionkit.data.layout import load_npy, save_npy
from motionkit.errors import MotionkitError
from motionkit.tokenizer.vae import MotionVAE
from motionkit.train.checkpoint import METRICS_FILE, MODEL_FILE, load_weights

__all__ = [
    "METRICS_FILE",
    "MODEL_FILE",
    "build_vae",
    "load_npy",
    "load_tokenizer",
    "save_stats",
    "tokenizer_dir",
]

MEAN_FILE = "mean.npy"
STD_FILE = "std.npy"


def build_vae(config: RunConfig, feature_dim: int) -> MotionVAE:
    """The motion VAE of a tokenizer run config (random weights)."""
    model_cfg = config["model"]
    quantizer = config["quantizer"].build(dim=model_cfg.dim)
    return MotionVAE(model_cfg, quantizer, feature_dim)


def save_stats(run_dir: Path, mean: np.ndarray, std: np.ndarray) -> None:
    save_npy(run_dir / MEAN_FILE, mean.astype(np.float32))
    save_npy(run_dir / STD_FILE, std.astype(np.float32))


def tokenizer_dir(run_dir: str | Path) -> Path:
    """``run_dir``, or the ``tokenizer/`` folder of a pipeline run."""
    run_dir = Path(run_dir)
    if not (run_dir / MODEL_FILE).is_file() and (run_dir / "tokenizer" / MODEL_FILE).is_file():
        return run_dir / "tokenizer"
    return run_dir


def a_stage(stage: object) -> str:
    """``"a 'generator'"``, ``"an 'evaluator'"``; ``"an unknown"`` when it is not a name."""
    if not isinstance(stage, str):
        return "an unknown"
    return ("an " if stage[:1] in "aeiou" else "a ") + repr(stage)


def load_tokenizer(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[MotionVAE, np.ndarray, np.ndarray, RunConfig]:
    """Load a trained tokenizer: ``(model in eval mode, mean, std, config)``.

    ``run_dir`` is a tokenizer run, or a pipeline run whose ``tokenizer/`` folder is used.
    """
    run_dir = tokenizer_dir(run_dir)
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise MotionkitError(
            f"{run_dir} has no {MODEL_FILE}; train one with "
            f"'motionkit train --stage tokenizer --out {run_dir}'"
        )
    config = RunConfig.load(run_dir)
    if config.stage != "tokenizer":
        raise MotionkitError(
            f"{run_dir} is {a_stage(config.stage)} run, not a tokenizer run; pass a folder "
            "made by 'motionkit train --stage tokenizer' (or a pipeline run)"
        )
    mean, std = load_npy(run_dir / MEAN_FILE), load_npy(run_dir / STD_FILE)
    _check_stats(run_dir, mean, std)
    model = build_vae(config, int(mean.shape[0]))
    load_weights(weights, model)
    return model.to(device).eval(), mean, std, config


def _check_stats(run_dir: Path, mean: np.ndarray, std: np.ndarray) -> None:
    """The saved statistics are two finite ``(D,)`` arrays of a known feature layout."""
    from motionkit.motion.skeleton import KIT21, SMPL22

    widths = (SMPL22.feature_dim, KIT21.feature_dim)
    for name, stat in ((MEAN_FILE, mean), (STD_FILE, std)):
        if (
            stat.ndim != 1
            or stat.shape[0] not in widths
            or not np.issubdtype(stat.dtype, np.number)
        ):
            raise MotionkitError(
                f"{run_dir / name} holds a {stat.dtype} array of shape {stat.shape}, not the "
                f"({widths[0]},) or ({widths[1]},) statistics the tokenizer was trained with; "
                "restore it from the run's training data"
            )
        if not np.isfinite(stat).all():
            raise MotionkitError(
                f"{run_dir / name} contains NaN or inf; restore it from the run's training data"
            )
    if mean.shape != std.shape:
        raise MotionkitError(
            f"{run_dir / MEAN_FILE} and {STD_FILE} differ in shape ({mean.shape} vs {std.shape}); "
            "restore them from the run's training data"
        )


def load_with_data(
    run: str | Path, data: str | Path, split: str, *, needs: str, **read_options: Any
) -> tuple[MotionVAE, np.ndarray, np.ndarray, Any]:
    """A tokenizer run and a split of a dataset it can read: ``(model, mean, std, dataset)``.

    ``needs`` says which clips are wanted, for the message when there are none; a dataset of
    another feature width than the tokenizer's is refused in one line."""
    from motionkit.data.humanml3d import read_folder

    model, mean, std, _ = load_tokenizer(run)
    dataset = read_folder(data, split, **read_options)
    if not dataset.clips:
        raise MotionkitError(
            f"split {split!r} of {data} has no readable clip {needs}; fix its "
            "new_joint_vecs/*.npy files or choose another split"
        )
    if dataset.feature_dim != mean.shape[0]:
        raise MotionkitError(
            f"{data} has {dataset.feature_dim}-d features, but the tokenizer {run} was trained "
            f"on {mean.shape[0]}-d ones; use a dataset of the same layout"
        )
    return model, mean, std, dataset
