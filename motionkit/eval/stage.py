"""The ``evaluator`` stage: a text-motion retrieval model trained on any prepared dataset."""

from __future__ import annotations

from motionkit.config.run import Section, Stage, register_stage
from motionkit.eval.config import EvaluatorConfig
from motionkit.generator.stage import TEXT_ENCODER
from motionkit.tokenizer.stage import DATASET, TRAIN

EVALUATOR = Section("evaluator", "retrieval model", config_cls=EvaluatorConfig)

EVALUATOR_STAGE = register_stage(
    Stage(
        name="evaluator",
        description="train a text-motion retrieval model that scores generated motion",
        sections=(DATASET, TEXT_ENCODER, EVALUATOR, TRAIN),
        train="motionkit.eval.train:train_evaluator",
    )
)
