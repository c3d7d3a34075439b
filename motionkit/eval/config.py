"""Settings of a text-motion retrieval evaluator (``motionkit evaluator train``).

Torch-free: the config is part of the ``evaluator`` stage's run config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from motionkit.config.fields import option


@dataclass(frozen=True)
class EvaluatorConfig:
    """Motion encoder and contrastive objective of a retrieval evaluator."""

    dim: int = option(512, help="width of the shared text-motion embedding")
    width: int = option(256, help="channels of the motion encoder's convolutions")
    layers: int = option(3, help="residual convolution blocks after the two down-samplings")
    temperature: float = option(0.07, help="softmax temperature of the contrastive loss")
    drop_contacts: bool = option(
        True, help="ignore the 4 foot-contact features, as the standard evaluator does"
    )
    val_clips: int = option(512, help="validate retrieval on at most this many clips")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"dim": 64, "width": 64, "layers": 1, "val_clips": 64},
    }

    def __post_init__(self) -> None:
        for name in ("dim", "width", "val_clips"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.layers < 0:
            raise ValueError(f"layers must not be negative, got {self.layers}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
