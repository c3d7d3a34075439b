"""The ``tokenizer`` stage: its config sections and its trainer (``tokenizer.task``)."""

from __future__ import annotations

from motionkit.config.run import Section, Stage, register_stage
from motionkit.tokenizer.config import MotionVAEConfig
from motionkit.train.config import TrainConfig

DATASET = Section("dataset", "training data", registry="datasets", default="synthetic")
MODEL = Section("model", "motion VAE architecture", config_cls=MotionVAEConfig)
QUANTIZER = Section("quantizer", "latent quantizer", registry="quantizers", default="fsq")
TRAIN = Section("train", "optimisation", config_cls=TrainConfig)

TOKENIZER = register_stage(
    Stage(
        name="tokenizer",
        description="train a motion VAE + quantizer that turns motion into tokens",
        sections=(DATASET, MODEL, QUANTIZER, TRAIN),
        train="motionkit.tokenizer.task:train_tokenizer",
    )
)
