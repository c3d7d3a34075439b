"""The ``generator`` stage and the ``pipeline`` stage (tokenizer, then generator, in one run)."""

from __future__ import annotations

from motionkit.config.run import Section, Stage, register_stage
from motionkit.generator.config import GeneratorConfig
from motionkit.tokenizer.stage import DATASET, MODEL, QUANTIZER, TRAIN

TEXT_ENCODER = Section(
    "text_encoder", "caption encoder", registry="text_encoders", default="learned"
)
BACKBONE = Section(
    "backbone", "autoregressive transformer", registry="backbones", default="prefix-lm"
)
GENERATOR = Section("generator", "tokens, augmentation, conditioning", config_cls=GeneratorConfig)

GENERATOR_STAGE = register_stage(
    Stage(
        name="generator",
        description="train a text-conditioned transformer on the tokens of a tokenizer run",
        sections=(DATASET, TEXT_ENCODER, BACKBONE, GENERATOR, TRAIN),
        train="motionkit.generator.task:train_generator",
    )
)

PIPELINE = register_stage(
    Stage(
        name="pipeline",
        description="train a tokenizer, then a generator on its tokens, into one run folder",
        sections=(DATASET, MODEL, QUANTIZER, TEXT_ENCODER, BACKBONE, GENERATOR, TRAIN),
        train="motionkit.generator.task:train_pipeline",
    )
)
