"""Parameter and compute accounting in ScaMo's "paper units" (REFERENCE.md §3).

* non-vocabulary parameters ``Nnv = 24 L d^2 + 2 L n_ctx d`` (``n_ctx = 201``),
* vocabulary parameters ``Nv = 2 V d``,
* compute ``C = 3 (Nnv + Nv) D``, which equals ``6 N D`` with ``N = (Nnv + Nv) / 2``.

Pure Python: no numpy, no torch.
"""

from __future__ import annotations

PAPER_N_CTX = 201


def paper_params(layers: int, dim: int, vocab: int, n_ctx: int = PAPER_N_CTX) -> tuple[int, int]:
    """``(Nnv, Nv)`` of a ``layers`` x ``dim`` model with ``vocab`` codes, in paper units."""
    if layers < 1 or dim < 1 or vocab < 1 or n_ctx < 0:
        raise ValueError(
            f"layers, dim and vocab must be positive and n_ctx >= 0, got {layers}, {dim}, "
            f"{vocab}, {n_ctx}"
        )
    return 24 * layers * dim * dim + 2 * layers * n_ctx * dim, 2 * vocab * dim


def flops(n_params: float, tokens: float) -> float:
    """Training compute ``6 N D``."""
    return 6.0 * n_params * tokens


def paper_flops(non_vocab: float, vocab: float, tokens: float) -> float:
    """Training compute in paper units, ``3 (Nnv + Nv) D``."""
    return 3.0 * (non_vocab + vocab) * tokens


def tokens_from_flops(compute: float, n_params: float) -> float:
    """The ``D`` with ``6 N D = compute``."""
    if n_params <= 0:
        raise ValueError(f"n_params must be positive, got {n_params}")
    return compute / (6.0 * n_params)


def paper_tokens_from_flops(compute: float, non_vocab: float, vocab: float) -> float:
    """The ``D`` with ``3 (Nnv + Nv) D = compute``."""
    if non_vocab + vocab <= 0:
        raise ValueError(f"Nnv + Nv must be positive, got {non_vocab} + {vocab}")
    return compute / (3.0 * (non_vocab + vocab))
