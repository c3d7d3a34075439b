"""Settings of the generator stage that belong to neither the backbone nor the text encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from motionkit.config.fields import option


@dataclass(frozen=True)
class GeneratorConfig:
    """Data, augmentation and conditioning of generator training (REFERENCE.md §2)."""

    tokenizer: str = option(
        "", help="tokenizer run whose tokens the generator models (a folder with config.json)"
    )
    max_motion_tokens: int = option(
        50, help="the most tokens of a sequence, END included (196 frames / 4 + END = 50)"
    )
    mirrors: bool = option(True, help="also train on the M-prefixed mirrored copies of clips")
    crop_prob: float = option(
        1 / 3, help="probability of dropping the first or the last motion token (T2M-GPT)"
    )
    replace_prob: float = option(
        0.3, help="fraction of input motion tokens replaced by random codes (T2M-GPT corruption)"
    )
    text_drop: float = option(
        0.1, help="probability of training a caption as empty, for classifier-free guidance"
    )
    label_smoothing: float = option(0.0, help="label smoothing of the cross-entropy")
    val_clips: int = option(512, help="validate on at most this many clips of the val split")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"val_clips": 64}}

    def __post_init__(self) -> None:
        if self.max_motion_tokens < 2:
            raise ValueError(f"max_motion_tokens must be at least 2, got {self.max_motion_tokens}")
        for name in ("crop_prob", "replace_prob", "text_drop", "label_smoothing"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_clips < 1:
            raise ValueError(f"val_clips must be at least 1, got {self.val_clips}")
