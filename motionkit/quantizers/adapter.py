"""One torch adapter that gives any vector-quantize-pytorch quantizer the motionkit contract.

Shapes (channel-last):

* ``forward(z)``: ``z`` ``(B, T, D)`` float -> ``QuantizerOutput`` with ``quantized``
  ``(B, T, D)`` in ``z``'s dtype, int64 ``indices`` ``(B, T)`` or ``(B, T, Q)``, a scalar
  ``aux_loss`` and detached ``stats`` (``perplexity``, ``usage``).
* ``encode(z)``: ``(B, T, D)`` -> int64 indices, computed as in eval mode (no EMA update, no
  quantizer dropout) whatever the module's mode.
* ``decode(indices)``: indices -> ``(B, T, D)`` in the module's float dtype. In eval mode
  ``decode(encode(z))`` equals ``forward(z).quantized``.

The libraries differ in two ways, both constructor arguments of ``QuantizerAdapter``:

* what ``forward`` returns: FSQ ``(out, indices)``, VectorQuantize ``(quantized, indices, loss)``,
  ResidualVQ ``(quantized, indices, losses)``, LFQ a namedtuple ``(quantized, indices,
  entropy_aux_loss)``. ``split_output`` reads all of them; pass another ``split`` for a
  library that returns something else.
* which method maps indices back to latents (``decode_method``): ``indices_to_codes`` for FSQ and
  LFQ, ``get_output_from_indices`` for VectorQuantize and ResidualVQ.

Plugins wrap their module the same way::

    from motionkit.quantizers.adapter import QuantizerAdapter
    QuantizerAdapter(LFQ(dim=256, codebook_size=1024), dim=256, codebook_size=1024,
                     decode_method="indices_to_codes")
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from motionkit.quantizers.base import QuantizerOutput

__all__ = ["QuantizerAdapter", "code_stats", "split_output"]

#: ``split(raw_output) -> (quantized, indices, losses)``
Split = Callable[[Any], tuple[Tensor, Tensor, Sequence[Tensor]]]


def split_output(raw: Sequence[Any]) -> tuple[Tensor, Tensor, list[Tensor]]:
    """``(quantized, indices, *losses)`` as vector-quantize-pytorch returns it -> its parts."""
    quantized, indices, *losses = raw
    return quantized, indices, [loss for loss in losses if loss is not None]


def code_stats(indices: Tensor, codebook_size: int) -> dict[str, float]:
    """Perplexity and usage of a batch of codes, averaged over codebooks.

    Args:
        indices: ``(B, T)`` or ``(B, T, Q)`` integer codes; negative entries (codes dropped by
            quantizer dropout) are ignored.
        codebook_size: codes per codebook ``K``.

    Returns:
        ``perplexity`` (``exp`` of the entropy of the code histogram, in ``[1, K]``) and ``usage``
        (fraction of the ``K`` codes that occur in the batch).
    """
    with torch.no_grad():
        flat = indices.detach().reshape(-1, indices.shape[-1] if indices.ndim == 3 else 1)
        num_books = flat.shape[1]
        offsets = torch.arange(num_books, device=flat.device) * codebook_size
        valid = flat >= 0
        counts = torch.bincount(
            (flat + offsets)[valid].long(), minlength=num_books * codebook_size
        ).reshape(num_books, codebook_size)
        counts = counts.double()
        totals = counts.sum(dim=1, keepdim=True).clamp_min(1.0)
        probs = counts / totals
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum(dim=1)
        perplexity = entropy.exp().mean().item()
        usage = (counts > 0).double().mean(dim=1).mean().item()
    return {"perplexity": perplexity, "usage": usage}


def _float_dtype(module: nn.Module) -> torch.dtype | None:
    """dtype of the first floating parameter, else of the first floating buffer, else ``None``."""
    for tensors in (module.parameters(), module.buffers()):
        for tensor in tensors:
            if tensor.is_floating_point():
                return tensor.dtype
    return None


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Run a block with every submodule in eval mode, restoring each one's own flag afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


class QuantizerAdapter(nn.Module):
    """A vector-quantize-pytorch module behind the ``Quantizer``
    contract.

    Args:
        module: the library quantizer, built channel-last for input width ``dim``.
        dim: latent width ``D``.
        codebook_size: codes per codebook ``K``.
        num_codebooks: number of codebooks ``Q``; 1 gives ``(B, T)`` indices, more ``(B, T, Q)``.
        decode_method: name of the ``module`` method mapping indices to ``(B, T, D)`` latents.
        split: reads ``module``'s forward output into ``(quantized, indices, losses)``.

    The module's floating parameters and buffers are brought to one dtype (that of its first
    floating parameter), so a module built under ``torch.set_default_dtype(torch.float64)`` works
    whole in float64. Inputs are cast to that dtype and outputs back to the input's dtype.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        dim: int,
        codebook_size: int,
        num_codebooks: int = 1,
        decode_method: str,
        split: Split = split_output,
    ) -> None:
        super().__init__()
        if not callable(getattr(module, decode_method, None)):
            raise TypeError(f"{type(module).__name__} has no method {decode_method!r}")
        self.inner = module
        self.dim = int(dim)
        self.codebook_size = int(codebook_size)
        self.num_codebooks = int(num_codebooks)
        self.decode_method = decode_method
        self.split = split
        dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
        self.inner.to(dtype or torch.get_default_dtype())

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, codebook_size={self.codebook_size}, "
            f"num_codebooks={self.num_codebooks}"
        )

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype the wrapped module computes in."""
        return _float_dtype(self.inner) or torch.get_default_dtype()

    @property
    def bits_per_token(self) -> float:
        """Information of one time step's codes: ``Q * log2(K)``."""
        return self.num_codebooks * math.log2(self.codebook_size)

    def _check_latents(self, z: Any) -> None:
        if not isinstance(z, Tensor) or z.ndim != 3 or z.shape[-1] != self.dim:
            got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"expected latents of shape (B, T, {self.dim}), got {got}")
        if not z.is_floating_point():
            raise ValueError(f"expected floating-point latents, got dtype {z.dtype}")

    def _check_indices(self, indices: Any) -> None:
        want = "(B, T)" if self.num_codebooks == 1 else f"(B, T, {self.num_codebooks})"
        ndim = 2 if self.num_codebooks == 1 else 3
        ok = isinstance(indices, Tensor) and indices.ndim == ndim
        if not ok or (ndim == 3 and indices.shape[-1] != self.num_codebooks):
            got = tuple(indices.shape) if isinstance(indices, Tensor) else type(indices).__name__
            raise ValueError(f"expected indices of shape {want}, got {got}")
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise ValueError(f"expected integer indices, got dtype {indices.dtype}")
        if indices.numel():
            low = -1 if self.num_codebooks > 1 else 0  # -1: a level dropped by quantizer dropout
            if int(indices.min()) < low or int(indices.max()) >= self.codebook_size:
                raise ValueError(
                    f"indices must lie in [0, {self.codebook_size}), got values from "
                    f"{int(indices.min())} to {int(indices.max())}"
                )

    def forward(self, z: Tensor) -> QuantizerOutput:
        """Quantize ``z`` ``(B, T, D)``; gradients reach ``z`` in training mode."""
        self._check_latents(z)
        quantized, indices, losses = self.split(self.inner(z.to(self.dtype)))
        indices = indices.long()
        aux_loss = sum((loss.sum() for loss in losses), z.new_zeros(()))
        return QuantizerOutput(
            quantized=quantized.to(z.dtype),
            indices=indices,
            aux_loss=aux_loss.to(z.dtype),
            stats=code_stats(indices, self.codebook_size),
        )

    @torch.no_grad()
    def encode(self, z: Tensor) -> Tensor:
        """``(B, T, D)`` latents -> int64 indices ``(B, T)`` or ``(B, T, Q)``, as in eval mode."""
        self._check_latents(z)
        with _eval_mode(self.inner):
            _, indices, _ = self.split(self.inner(z.to(self.dtype)))
        return indices.long()

    def decode(self, indices: Tensor) -> Tensor:
        """Indices ``(B, T)`` or ``(B, T, Q)`` -> ``(B, T, D)`` latents in ``dtype``."""
        self._check_indices(indices)
        out = getattr(self.inner, self.decode_method)(indices.long())
        return out.to(self.dtype)
