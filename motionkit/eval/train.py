"""Training a retrieval evaluator (``motionkit evaluator train``) as a ``train.Task``; loading it.

Each batch pairs clips of the training split with one of their captions, drawn at random; the
loss is the symmetric InfoNCE of ``RetrievalModel``. Validation reports R-precision top-1/2/3 and
the matching score on the ``val`` split (batches of 32, as the protocol scores). After training,
the R-precision of real motion on the ``test`` split is written to ``retrieval-test.json``: the
ceiling a generator can reach with this evaluator.

```
EVAL_RUN/
  config.json  model.safetensors  checkpoint.safetensors  metrics.jsonl
  mean.npy std.npy     the evaluator's own normalisation statistics
  text_vocab.json      the learned text encoder's vocabulary (when it is used)
  retrieval-test.json  real motion's retrieval scores on the test split
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.config.run import CONFIG_FILENAME, RunConfig
from motionkit.data.humanml3d import MotionClip
from motionkit.data.layout import load_npy
from motionkit.data.stats import feature_stats
from motionkit.errors import MotionkitError
from motionkit.eval import metrics as M
from motionkit.eval.retrieval import CONTACT_DIMS, Evaluator, RetrievalModel, pad_motions
from motionkit.io import atomic_write_text
from motionkit.tokenizer.run import save_stats
from motionkit.train.checkpoint import MODEL_FILE, load_weights
from motionkit.train.loop import fit, pick_device
from motionkit.train.task import SeededSampling

TEST_FILE = "retrieval-test.json"


def captioned_clips(data_cfg: Any, split: str, *, mirrors: bool = False) -> list[MotionClip]:
    """Clips of ``split`` with at least one non-empty caption."""
    dataset = data_cfg.read(split, require_text=True, include_mirrors=mirrors)
    return [c for c in dataset.clips if any(cap.text.strip() for cap in c.captions)]


def first_captions(clips: list[MotionClip]) -> list[str]:
    return [next(c.text for c in clip.captions if c.text.strip()) for clip in clips]


def retrieval_scores(evaluator: Evaluator, clips: list[MotionClip]) -> dict[str, float]:
    """R-precision top-1/2/3 and matching score of real motion with its first caption."""
    if not clips:
        return {}
    text = evaluator.embed_text(first_captions(clips))
    motion = evaluator.embed_motion([c.features for c in clips])
    batch = min(32, len(clips))
    top = M.r_precision(text, motion, top_k=min(3, batch), batch_size=batch)
    out = {f"top{k + 1}": float(v) for k, v in enumerate(top)}
    out["matching"] = M.matching_score(text, motion, batch_size=batch)
    out["batch"] = batch
    return out


class EvaluatorTask(SeededSampling):
    """Contrastive text-motion training (see the module docstring)."""

    label = "training evaluator"
    unit = "clips"
    best_metric = ("top3", "max")
    distributable = False  # InfoNCE couples every pair of the batch

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool) -> None:
        self.train_cfg = config["train"]
        self.cfg = cfg = config["evaluator"]
        self.device = pick_device(self.train_cfg.device)
        data_cfg = config["dataset"]
        self.train_clips = captioned_clips(data_cfg, data_cfg.split, mirrors=True)
        if len(self.train_clips) < 2:
            raise MotionkitError(
                f"an evaluator needs captioned clips: split {data_cfg.split!r} of "
                f"{data_cfg.folder} has {len(self.train_clips)} (texts/<id>.txt)"
            )
        try:
            val = captioned_clips(data_cfg, "val")
        except MotionkitError:
            val = []
        self.val_clips = (val or self.train_clips)[: cfg.val_clips]
        if resume:
            mean, std = load_npy(run_dir / "mean.npy"), load_npy(run_dir / "std.npy")
        else:
            mean, std = feature_stats([c.features for c in self.train_clips])
            save_stats(run_dir, mean, std)
        captions = sorted({c.text for clip in self.train_clips for c in clip.captions})
        torch.manual_seed(self.train_cfg.seed)  # right before the models are built
        text_encoder = config["text_encoder"].build(captions=captions, run_dir=run_dir)
        width = int(mean.shape[0]) - (CONTACT_DIMS if cfg.drop_contacts else 0)
        self.model = RetrievalModel(text_encoder, width, cfg).to(self.device)
        self.evaluator = Evaluator(self.model, mean, std, "training")
        self.rng = np.random.default_rng(self.train_cfg.seed)

    def next_batch(self) -> dict[str, Any]:
        size = min(self.train_cfg.batch_size, len(self.train_clips))
        picks = self.rng.choice(len(self.train_clips), size=size, replace=False)
        clips = [self.train_clips[int(i)] for i in picks]
        captions = []
        for clip in clips:
            texts = [c.text for c in clip.captions if c.text.strip()]
            captions.append(texts[int(self.rng.integers(len(texts)))])
        motion = [self.evaluator._prepare(c.features) for c in clips]
        x, lengths = pad_motions(motion, self.device)
        return {"x": x, "lengths": lengths, "captions": captions}

    def count(self, batch: dict[str, Any]) -> int:
        return len(batch["captions"])

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        text = self.model.embed_text(batch["captions"])
        motion = self.model.embed_motion(batch["x"], batch["lengths"])
        loss = self.model.loss(text, motion)
        return loss, {"nce": loss.item(), "scale": float(self.model.logit_scale.detach().exp())}

    def validate(self) -> dict[str, float]:
        return retrieval_scores(self.evaluator, self.val_clips)


def train_evaluator(config: RunConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train (or resume) an evaluator; then score real motion on the test split."""
    task = EvaluatorTask(config, run_dir, resume=resume)
    metrics = fit(task, config["train"], run_dir, resume=resume)
    data_cfg = config["dataset"]
    try:
        test = captioned_clips(data_cfg, "test")
    except MotionkitError:
        test = []
    scores = retrieval_scores(task.evaluator, test)
    record = {"split": "test", "clips": len(test), **scores}
    atomic_write_text(run_dir / TEST_FILE, json.dumps(record, indent=2) + "\n")
    return {**metrics, **{f"test_{k}": v for k, v in scores.items()}}


def load_evaluator(run: str | Path, device: str | torch.device = "cpu") -> Evaluator:
    """Load an evaluator trained by ``motionkit evaluator train``."""
    run_dir = Path(run)
    if not (run_dir / CONFIG_FILENAME).is_file():
        raise MotionkitError(
            f"{run_dir} is not an evaluator run (no config.json); train one with "
            "'motionkit evaluator train --data DIR --out EVAL'"
        )
    config = RunConfig.load(run_dir)
    if config.stage != "evaluator":
        raise MotionkitError(
            f"{run_dir} is a {config.stage!r} run, not an evaluator; train one with "
            "'motionkit evaluator train --data DIR --out EVAL'"
        )
    mean, std = load_npy(run_dir / "mean.npy"), load_npy(run_dir / "std.npy")
    cfg = config["evaluator"]
    text_encoder = config["text_encoder"].build(run_dir=run_dir)
    width = int(mean.shape[0]) - (CONTACT_DIMS if cfg.drop_contacts else 0)
    model = RetrievalModel(text_encoder, width, cfg)
    load_weights(run_dir / MODEL_FILE, model, what="evaluator weights")
    text_name = config.names.get("text_encoder", "?")
    description = f"motionkit retrieval evaluator {run_dir} (text encoder {text_name})"
    return Evaluator(model.to(device), mean, std, description)
