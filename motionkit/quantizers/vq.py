"""EMA vector quantization config (VQ-VAE, van den Oord et al. 2017; Razavi et al. 2019).

Latents ``(B, T, D)`` snap to the nearest of ``codebook_size`` learned codes: quantized
``(B, T, D)``, int64 indices ``(B, T)``. The codebook follows an exponential moving average of the
latents assigned to it (training mode only), starts from k-means on the first batch it sees (in
any mode, ``encode`` included; ``decode`` before that returns zeros), and codes unused for a while
are replaced by batch latents. The auxiliary loss is the commitment loss. Gradients pass to the
input straight-through, as in the papers: vector-quantize-pytorch's default rotation trick is off,
since it scales gradients by ``|code| / |input|`` and blows up on near-zero residuals in ``rvq``.

Torch-free at import; ``VQConfig.build`` imports vector-quantize-pytorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.config.fields import option
from motionkit.quantizers import resolve_dim
from motionkit.registry import quantizers

if TYPE_CHECKING:
    from motionkit.quantizers.adapter import QuantizerAdapter


def check_ema_options(cfg: Any) -> None:
    """Validation shared by the EMA codebook configs (``vq``, ``rvq``); raises ``ValueError``."""
    if cfg.codebook_size < 2:
        raise ValueError(f"codebook_size must be at least 2, got {cfg.codebook_size}")
    if cfg.dim is not None and cfg.dim < 1:
        raise ValueError(f"dim must be at least 1 when set, got {cfg.dim}")
    if not 0.0 <= cfg.decay < 1.0:
        raise ValueError(f"decay must be in [0, 1), got {cfg.decay}")
    if cfg.commitment_weight < 0:
        raise ValueError(f"commitment_weight must not be negative, got {cfg.commitment_weight}")
    if cfg.kmeans_iters < 1:
        raise ValueError(f"kmeans_iters must be at least 1, got {cfg.kmeans_iters}")
    if cfg.threshold_ema_dead_code < 0:
        raise ValueError(
            f"threshold_ema_dead_code must not be negative (0 turns replacement off), "
            f"got {cfg.threshold_ema_dead_code}"
        )


@quantizers.register("vq")
@dataclass(frozen=True)
class VQConfig:
    """EMA vector quantization (VQ-VAE: van den Oord et al. 2017, Razavi et al. 2019)."""

    codebook_size: int = option(1024, help="number of codes in the codebook")
    dim: int | None = option(None, help="latent width D; None takes the model's")
    codebook_dim: int | None = option(
        None, help="width of the code lookup (projected from and to D); None uses D"
    )
    decay: float = option(0.99, help="EMA decay of the codebook update")
    commitment_weight: float = option(0.02, help="weight of the commitment loss")
    kmeans_init: bool = option(True, help="initialise the codebook by k-means on the first batch")
    kmeans_iters: int = option(10, help="k-means iterations of the codebook initialisation")
    threshold_ema_dead_code: int = option(
        2, help="replace codes whose EMA usage falls below this (0 turns it off)"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"codebook_size": 64, "kmeans_iters": 2},
    }

    def __post_init__(self) -> None:
        check_ema_options(self)
        if self.codebook_dim is not None and self.codebook_dim < 1:
            raise ValueError(f"codebook_dim must be at least 1 when set, got {self.codebook_dim}")

    def build(self, dim: int | None = None) -> QuantizerAdapter:
        """A VectorQuantize module for latent width ``dim`` (or the configured one)."""
        from vector_quantize_pytorch import VectorQuantize

        from motionkit.quantizers.adapter import QuantizerAdapter

        width = resolve_dim("vq", self.dim, dim)
        module = VectorQuantize(
            dim=width,
            codebook_size=self.codebook_size,
            codebook_dim=self.codebook_dim,
            decay=self.decay,
            commitment_weight=self.commitment_weight,
            kmeans_init=self.kmeans_init,
            kmeans_iters=self.kmeans_iters,
            threshold_ema_dead_code=self.threshold_ema_dead_code,
            channel_last=True,
            rotation_trick=False,  # straight-through (see the module docstring)
        )
        return QuantizerAdapter(
            module,
            dim=width,
            codebook_size=self.codebook_size,
            decode_method="get_output_from_indices",
        )
