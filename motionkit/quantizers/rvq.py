"""Residual vector quantization config (SoundStream, Zeghidour et al. 2021; as in MoMask).

``num_quantizers`` EMA codebooks quantize in turn what the previous ones left over; the quantized
latents are the sum of the chosen codes: quantized ``(B, T, D)``, int64 indices ``(B, T, Q)`` with
``Q = num_quantizers``. Quantizer dropout (training mode only) keeps a random number of the first
levels and marks the rest with index -1; in eval mode every level is used.

Torch-free at import; ``RVQConfig.build`` imports vector-quantize-pytorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.config.fields import option
from motionkit.quantizers import resolve_dim
from motionkit.quantizers.vq import check_ema_options
from motionkit.registry import quantizers

if TYPE_CHECKING:
    from motionkit.quantizers.adapter import QuantizerAdapter


@quantizers.register("rvq")
@dataclass(frozen=True)
class RVQConfig:
    """Residual vector quantization (SoundStream, Zeghidour et al. 2021; as in MoMask)."""

    codebook_size: int = option(512, help="number of codes in each codebook")
    num_quantizers: int = option(6, help="number of residual codebooks Q")
    dim: int | None = option(None, help="latent width D; None takes the model's")
    decay: float = option(0.99, help="EMA decay of the codebook updates")
    commitment_weight: float = option(0.02, help="weight of the commitment loss")
    kmeans_init: bool = option(True, help="initialise each codebook by k-means on the first batch")
    kmeans_iters: int = option(10, help="k-means iterations of the codebook initialisation")
    threshold_ema_dead_code: int = option(
        2, help="replace codes whose EMA usage falls below this (0 turns it off)"
    )
    quantize_dropout: bool = option(
        False, help="in training, keep a random number of the first levels (the rest get -1)"
    )
    quantize_dropout_cutoff_index: int = option(
        0, help="with quantize_dropout, levels up to this index are always kept"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"codebook_size": 32, "num_quantizers": 2, "kmeans_iters": 2},
    }

    def __post_init__(self) -> None:
        check_ema_options(self)
        if self.num_quantizers < 1:
            raise ValueError(f"num_quantizers must be at least 1, got {self.num_quantizers}")
        if not 0 <= self.quantize_dropout_cutoff_index < self.num_quantizers:
            raise ValueError(
                f"quantize_dropout_cutoff_index must be in [0, {self.num_quantizers}), "
                f"got {self.quantize_dropout_cutoff_index}"
            )

    def build(self, dim: int | None = None) -> QuantizerAdapter:
        """A ResidualVQ module for latent width ``dim`` (or the configured one)."""
        from vector_quantize_pytorch import ResidualVQ

        from motionkit.quantizers.adapter import QuantizerAdapter

        width = resolve_dim("rvq", self.dim, dim)
        module = ResidualVQ(
            dim=width,
            num_quantizers=self.num_quantizers,
            codebook_size=self.codebook_size,
            decay=self.decay,
            commitment_weight=self.commitment_weight,
            kmeans_init=self.kmeans_init,
            kmeans_iters=self.kmeans_iters,
            threshold_ema_dead_code=self.threshold_ema_dead_code,
            quantize_dropout=self.quantize_dropout,
            quantize_dropout_cutoff_index=self.quantize_dropout_cutoff_index,
            channel_last=True,
            rotation_trick=False,  # rotation trick: huge gradients on tiny residuals
        )
        return QuantizerAdapter(
            module,
            dim=width,
            codebook_size=self.codebook_size,
            num_codebooks=self.num_quantizers,
            decode_method="get_output_from_indices",
        )
