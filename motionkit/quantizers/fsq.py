"""Finite scalar quantization config (Mentzer et al. 2023), the default motionkit quantizer.

Latents ``(B, T, D)`` are projected to ``len(levels)`` channels, each bounded and rounded to one of
``levels[i]`` values, and projected back: quantized ``(B, T, D)``, int64 indices ``(B, T)`` in
``[0, prod(levels))``. No codebook is learned and the auxiliary loss is 0.

Torch-free at import; ``FSQConfig.build`` imports vector-quantize-pytorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.config.fields import option
from motionkit.quantizers import resolve_dim
from motionkit.registry import quantizers

if TYPE_CHECKING:
    from motionkit.quantizers.adapter import QuantizerAdapter

#: FSQ levels per nominal vocabulary size, as in ScaMo (real sizes: 240, 512, 1000, 1920, 4375,
#: 15360, 64000 codes).
SCAMO_LEVELS: dict[str, tuple[int, ...]] = {
    "2^8": (8, 6, 5),
    "2^9": (8, 8, 8),
    "2^10": (8, 5, 5, 5),
    "2^11": (8, 8, 6, 5),
    "2^12": (7, 5, 5, 5, 5),
    "2^14": (8, 8, 8, 6, 5),
    "2^16": (8, 8, 8, 5, 5, 5),
}


@quantizers.register("fsq")
@dataclass(frozen=True)
class FSQConfig:
    """Finite scalar quantization (Mentzer et al. 2023, "Finite Scalar Quantization")."""

    levels: tuple[int, ...] = option(
        (8, 8, 8, 6, 5), help="quantization levels per channel; the codebook size is their product"
    )
    dim: int | None = option(None, help="latent width D; None takes the model's")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"levels": (5, 5, 5)},
        **{name: {"levels": levels} for name, levels in SCAMO_LEVELS.items()},
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ValueError("levels must not be empty, e.g. (8, 8, 8, 6, 5)")
        bad = [level for level in self.levels if isinstance(level, bool) or level < 3]
        if bad:
            raise ValueError(
                f"every FSQ level must be at least 3, got {self.levels}: vector-quantize-pytorch "
                "forbids level 2 unless preserve_symmetry is on"
            )
        if self.dim is not None and self.dim < 1:
            raise ValueError(f"dim must be at least 1 when set, got {self.dim}")

    @property
    def codebook_size(self) -> int:
        """Number of codes: the product of the levels."""
        return math.prod(self.levels)

    def build(self, dim: int | None = None) -> QuantizerAdapter:
        """An FSQ module for latent width ``dim`` (or the configured one)."""
        from vector_quantize_pytorch import FSQ

        from motionkit.quantizers.adapter import QuantizerAdapter

        width = resolve_dim("fsq", self.dim, dim)
        return QuantizerAdapter(
            FSQ(levels=list(self.levels), dim=width),
            dim=width,
            codebook_size=self.codebook_size,
            decode_method="indices_to_codes",
        )
