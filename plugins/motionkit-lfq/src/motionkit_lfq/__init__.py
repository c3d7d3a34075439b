"""motionkit-lfq: lookup-free quantization (Yu et al. 2023, MAGVIT-v2) as a motionkit quantizer.

Latents ``(B, T, D)`` are projected to ``log2(codebook_size)`` channels whose signs are the code
bits: quantized ``(B, T, D)``, int64 indices ``(B, T)`` in ``[0, codebook_size)``. There is no
codebook to look up; an entropy loss (confident per-token bits, diverse codes over the batch)
and a commitment loss form the auxiliary loss in training mode.

The entry point ``motionkit.quantizers: lfq = "motionkit_lfq:LFQConfig"`` registers the config.
This module is torch-free at import; ``LFQConfig.build`` imports vector-quantize-pytorch and
wraps its ``LFQ`` in motionkit's ``QuantizerAdapter``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.config.fields import option
from motionkit.quantizers import resolve_dim

if TYPE_CHECKING:
    from motionkit.quantizers.adapter import QuantizerAdapter

__all__ = ["LFQConfig"]
__version__ = "0.1.0"


@dataclass(frozen=True)
class LFQConfig:
    """Lookup-free quantization (Yu et al. 2023, MAGVIT-v2): codes are the signs of the bits."""

    codebook_size: int = option(1024, help="number of codes, a power of two (2**bits)")
    dim: int | None = option(None, help="latent width D; None takes the model's")
    entropy_loss_weight: float = option(0.1, help="weight of the entropy loss")
    commitment_loss_weight: float = option(0.25, help="weight of the commitment loss")
    diversity_gamma: float = option(1.0, help="weight of the batch code-diversity entropy term")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"codebook_size": 64},
    }

    def __post_init__(self) -> None:
        size = self.codebook_size
        if size < 2 or size & (size - 1):
            hint = 2 ** math.ceil(math.log2(size)) if size > 2 else 2
            raise ValueError(
                f"codebook_size must be a power of two (at least 2), got {size}; try {hint}"
            )
        if self.dim is not None and self.dim < 1:
            raise ValueError(f"dim must be at least 1 when set, got {self.dim}")
        for name in ("entropy_loss_weight", "commitment_loss_weight", "diversity_gamma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    @property
    def bits(self) -> int:
        """Bits per code: ``log2(codebook_size)``."""
        return self.codebook_size.bit_length() - 1

    def build(self, dim: int | None = None) -> QuantizerAdapter:
        """An LFQ module for latent width ``dim`` (or the configured one)."""
        from vector_quantize_pytorch import LFQ

        from motionkit.quantizers.adapter import QuantizerAdapter

        width = resolve_dim("lfq", self.dim, dim)
        module = LFQ(
            dim=width,
            codebook_size=self.codebook_size,
            entropy_loss_weight=self.entropy_loss_weight,
            commitment_loss_weight=self.commitment_loss_weight,
            diversity_gamma=self.diversity_gamma,
        )
        return QuantizerAdapter(
            module,
            dim=width,
            codebook_size=self.codebook_size,
            decode_method="indices_to_codes",
        )
