"""Architecture of the convolutional motion VAE (T2M-GPT / MoMask / ScaMo encoder-decoder).

The reference configuration is REFERENCE.md §1: width 512, latent dim 512, two stride-2
down-samplings (4 frames per token), residual stacks of depth 3 with dilation growth 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from motionkit.config.fields import option


@dataclass(frozen=True)
class MotionVAEConfig:
    """Convolutional encoder/decoder around the quantizer; the input width comes from the data."""

    width: int = option(512, help="channels of the hidden convolutions")
    dim: int = option(512, help="latent channels handed to the quantizer")
    down_t: int = option(2, help="number of stride-2 down-samplings (frames per token = 2**down_t)")
    depth: int = option(3, help="residual blocks per resolution")
    dilation_growth: int = option(3, help="dilation growth rate inside a residual stack")
    activation: Literal["relu", "gelu", "silu"] = option("relu", help="activation function")
    recon_loss: Literal["l1", "l2", "smooth_l1"] = option("l1", help="reconstruction loss")
    joint_weight: float = option(0.5, help="weight of the loss on root-relative joint positions")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"width": 32, "dim": 32, "depth": 1},
    }

    def __post_init__(self) -> None:
        for name in ("width", "dim", "depth", "dilation_growth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.down_t <= 6:
            raise ValueError(f"down_t must be between 0 and 6, got {self.down_t}")
        if self.joint_weight < 0:
            raise ValueError(f"joint_weight must not be negative, got {self.joint_weight}")

    @property
    def frames_per_token(self) -> int:
        return 2**self.down_t
