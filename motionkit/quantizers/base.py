"""The one Quantizer contract every quantizer follows, built-in or plugin.

Shapes (channel-last, as the transformer side sees them):

* input latents ``z``: ``(B, T, D)`` float
* ``quantized``: ``(B, T, D)``, same dtype as ``z``
* ``indices``: ``(B, T)`` int64 for one codebook, ``(B, T, Q)`` for ``Q`` codebooks (residual)

vector-quantize-pytorch returns a different tuple per class; the adapters hide that behind
``QuantizerOutput``. In eval mode ``decode(encode(z))`` equals ``forward(z).quantized``.

This module is torch-free so that configs and the registry load without torch;
``motionkit.quantizers.adapter`` holds the torch side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class QuantizerOutput:
    """What every quantizer's ``forward`` returns.

    Attributes:
        quantized: ``(B, T, D)`` quantized latents (straight-through gradients to the input).
        indices: ``(B, T)`` or ``(B, T, Q)`` int64 code indices.
        aux_loss: scalar auxiliary loss to add to the training loss (0 for FSQ).
        stats: detached scalars for logging: ``perplexity`` (exponential entropy of the code
            histogram of this batch) and ``usage`` (fraction of the codebook used in this batch),
            averaged over codebooks.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    aux_loss: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Quantizer(Protocol):
    """Contract of a built quantizer module (a ``torch.nn.Module``)."""

    #: number of codes in one codebook
    codebook_size: int
    #: number of codebooks (``Q``); 1 means indices are ``(B, T)``
    num_codebooks: int
    #: latent width ``D`` the quantizer takes and returns
    dim: int

    def __call__(self, z: torch.Tensor) -> QuantizerOutput: ...

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` latents -> int64 indices ``(B, T)`` or ``(B, T, Q)``."""
        ...

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices -> ``(B, T, D)`` quantized latents."""
        ...
