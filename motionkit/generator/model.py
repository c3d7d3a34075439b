"""The text-to-motion module (text encoder + backbone) and its run directory.

```
GENERATOR_RUN/
  config.json        the frozen RunConfig (stage "generator")
  model.safetensors  backbone weights, and the text encoder's when it is trained (``learned``)
  text_vocab.json    the learned text encoder's vocabulary (when it is used)
  vocab.json         the token vocabulary derived from the tokenizer (codes, END, PAD)
  unigram.json       code + END frequencies of the training tokens (for the normalised loss)
  checkpoint.safetensors, metrics.jsonl  the resume point and the logged metrics
```

A pipeline run (``motionkit train`` without ``--stage``) holds ``tokenizer/`` and ``generator/``
folders; ``load_generator`` accepts it as well. Frozen pretrained text encoders are loaded from
their own files, never copied into the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionkit.backbones.base import Vocabulary
from motionkit.config.run import CONFIG_FILENAME, RunConfig
from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_text
from motionkit.text.base import TextFeatures
from motionkit.text.holder import TextEncoderHolder
from motionkit.train.checkpoint import MODEL_FILE, load_weights

VOCAB_FILE = "vocab.json"
UNIGRAM_FILE = "unigram.json"


class TextToMotion(TextEncoderHolder):
    """Captions -> text features -> backbone logits over motion tokens.

    A frozen text encoder is held outside the module's parameters and state dict (it is not
    trained and not saved with the run) but follows the module across devices.
    """

    def __init__(self, text_encoder: nn.Module, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.vocab: Vocabulary = backbone.vocab
        self.hold_text_encoder(text_encoder)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def encode_text(self, captions: list[str]) -> TextFeatures:
        """Text features of ``captions`` on the module's device."""
        return self.text_features(captions, self.device)

    def forward(self, tokens: torch.Tensor, text: TextFeatures | list[str]) -> torch.Tensor:
        """Logits ``(B, T + 1, [Q,] V + 1)`` for tokens ``(B, T[, Q])`` (see ``Backbone``), given
        text features or the captions themselves (encoded inside the forward, which is what a
        sharded model needs: FSDP gathers the weights of the root module in its forward)."""
        if isinstance(text, list):
            text = self.encode_text(text)
        return self.backbone(tokens, text)


def build_generator(
    config: RunConfig,
    vocab: Vocabulary,
    run_dir: Path,
    captions: list[str] | None = None,
) -> TextToMotion:
    """The module of a generator run config (random weights; a learned vocabulary is built from
    ``captions`` or read from ``run_dir``)."""
    text_encoder = config["text_encoder"].build(captions=captions, run_dir=run_dir)
    backbone = config["backbone"].build(
        vocab=vocab,
        text_dim=int(text_encoder.dim),
        max_motion_tokens=config["generator"].max_motion_tokens,
        max_text_tokens=int(getattr(text_encoder, "max_tokens", 77)),
    )
    return TextToMotion(text_encoder, backbone)


def resolve_tokenizer(run_dir: Path, written: str) -> Path:
    """The tokenizer run a generator config names: as written (absolute, or relative to the
    working directory, then to the generator run); ``""`` names the pipeline's own sibling
    ``tokenizer/`` folder."""
    candidates = [Path(written), run_dir / written] if written else [run_dir.parent / "tokenizer"]
    for path in candidates:
        if (path / CONFIG_FILENAME).is_file():
            return _tokenizer_run(path, written)
    if not written:
        raise MotionkitError(
            "the generator needs a tokenizer run: pass --tokenizer RUN (a folder made by "
            "'motionkit train --stage tokenizer')"
        )
    raise MotionkitError(
        f"tokenizer run {written!r} not found (no config.json there); train one with "
        "'motionkit train --stage tokenizer' or fix --tokenizer"
    )


def _tokenizer_run(path: Path, written: str) -> Path:
    """``path`` when it is a tokenizer run, the ``tokenizer/`` folder of a pipeline run; any
    other run (a generator, an evaluator) is a one-line error."""
    from motionkit.config.run import load_config_file
    from motionkit.tokenizer.run import a_stage

    stage = load_config_file(path / CONFIG_FILENAME).get("stage")
    if stage == "pipeline" and (path / "tokenizer" / CONFIG_FILENAME).is_file():
        return path / "tokenizer"
    if stage != "tokenizer":
        raise MotionkitError(
            f"tokenizer run {written or str(path)!r} is {a_stage(stage)} run, not a tokenizer "
            "run; pass a folder made by 'motionkit train --stage tokenizer' (or a pipeline run)"
        )
    return path


def save_vocab(run_dir: Path, vocab: Vocabulary, tokenizer: Path, frames_per_token: int) -> None:
    record = {**vocab.to_dict(), "frames_per_token": frames_per_token, "tokenizer": str(tokenizer)}
    atomic_write_text(run_dir / VOCAB_FILE, json.dumps(record, indent=2) + "\n")


@dataclass
class LoadedGenerator:
    """Everything needed to turn captions into motion.

    Attributes:
        model: the text-to-motion module (eval mode).
        tokenizer: the motion VAE that decodes tokens to normalised features (eval mode).
        mean, std: the tokenizer's normalisation statistics (raw = normalised * std + mean).
        config: the generator run's config; ``run_dir`` its folder.
        fps: frame rate of the motion (from the skeleton of the feature layout).
    """

    model: TextToMotion
    tokenizer: nn.Module
    mean: np.ndarray
    std: np.ndarray
    config: RunConfig
    run_dir: Path
    fps: float

    @property
    def vocab(self) -> Vocabulary:
        return self.model.vocab


def generator_dir(run: str | Path) -> Path:
    """A generator run folder, or the ``generator/`` folder of a pipeline run."""
    run = Path(run)
    if (run / "generator" / CONFIG_FILENAME).is_file():
        return run / "generator"
    return run


def load_generator(run: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Load a trained generator run (or pipeline run) and its tokenizer, in eval mode."""
    from motionkit.motion.skeleton import skeleton_for_feature_dim
    from motionkit.tokenizer.run import a_stage, load_tokenizer

    run_dir = generator_dir(run)
    if not (run_dir / CONFIG_FILENAME).is_file():
        raise MotionkitError(
            f"{run} is not a generator run (no config.json); train one with "
            "'motionkit train --stage generator' or 'motionkit train'"
        )
    config = RunConfig.load(run_dir)
    if config.stage != "generator":
        raise MotionkitError(
            f"{run_dir} is {a_stage(config.stage)} run, not a generator run; pass the run folder "
            "made by 'motionkit train' (or its generator/ folder)"
        )
    if not (run_dir / MODEL_FILE).is_file():
        raise MotionkitError(f"{run_dir} has no {MODEL_FILE} yet; train it (or resume) first")
    tokenizer_dir = resolve_tokenizer(run_dir, config["generator"].tokenizer)
    vae, mean, std, _ = load_tokenizer(tokenizer_dir, device)
    q = vae.quantizer
    vocab = Vocabulary(q.codebook_size, q.num_codebooks)
    model = build_generator(config, vocab, run_dir)
    load_weights(run_dir / MODEL_FILE, model, what="generator weights")
    model = model.to(device).eval()
    fps = float(skeleton_for_feature_dim(int(mean.shape[0])).fps)
    return LoadedGenerator(model, vae, mean, std, config, run_dir, fps)
