"""Size arithmetic shared by the backbone configs (torch-free).

* ``SCAMO_SIZES``: the generator sizes of ScaMo (Lu et al., "ScaMo: Exploring the Scaling Law in
  Autoregressive Motion Generation Model", CVPR 2025) as layers / heads / width; their names are
  the parameter counts of the ScaMo prefix LM with the 2^14 FSQ vocabulary (15360 codes) and the
  2048-d Flan-T5-XL text features (REFERENCE.md §2).
* ``swiglu_hidden``: the LLaMA SwiGLU width, ``8 d / 3`` rounded up to a multiple of 256.
* ``paper_params``: ScaMo's parameter counts in "paper units" (REFERENCE.md §3):
  ``Nnv = 24 L d^2 + 2 L n_ctx d`` and ``Nv = 2 V d``.
"""

from __future__ import annotations

import math

#: ScaMo generator sizes: name -> (layers, heads, width).
SCAMO_SIZES: dict[str, tuple[int, int, int]] = {
    "44M": (8, 8, 512),
    "111M": (12, 12, 768),
    "343M": (24, 16, 1024),
    "775M": (36, 20, 1280),
    "1.4B": (48, 24, 1536),
    "3B": (24, 32, 3200),
}

#: Nominal parameter count of each ScaMo size name.
NOMINAL_PARAMS: dict[str, float] = {
    "44M": 44e6,
    "111M": 111e6,
    "343M": 343e6,
    "775M": 775e6,
    "1.4B": 1.4e9,
    "3B": 3e9,
}

#: Codebook size the nominal counts assume (FSQ levels 8,8,8,6,5, nominal 2^14).
REFERENCE_CODEBOOK_SIZE = 15360
#: Text feature width the nominal counts assume (Flan-T5-XL ``last_hidden_state``).
REFERENCE_TEXT_DIM = 2048
#: Context length of ScaMo's paper units: 150 text tokens + 51 motion positions.
PAPER_N_CTX = 201


def swiglu_hidden(dim: int, multiple: int = 256) -> int:
    """LLaMA's SwiGLU hidden width: ``8 * dim / 3`` rounded up to a multiple of ``multiple``.

    ScaMo's sizes: 512 -> 1536, 768 -> 2048, 1024 -> 2816, 1280 -> 3584, 1536 -> 4096,
    3200 -> 8704.
    """
    if multiple < 1:
        raise ValueError(f"the SwiGLU width multiple must be at least 1, got {multiple}")
    return multiple * math.ceil(8 * dim / (3 * multiple))


def check_shape(layers: int, heads: int, dim: int, what: str = "layers") -> None:
    """Raise ``ValueError`` unless ``layers``, ``heads`` and ``dim`` make a valid stack."""
    if layers < 1:
        raise ValueError(f"{what} must be at least 1, got {layers}")
    if heads < 1 or dim < 1:
        raise ValueError(f"heads and dim must be at least 1, got heads={heads}, dim={dim}")
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
    if (dim // heads) % 2:
        raise ValueError(f"the head width dim/heads ({dim // heads}) must be even for rotary")


def check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def paper_params(
    layers: int, dim: int, vocab_size: int, n_ctx: int = PAPER_N_CTX
) -> dict[str, int]:
    """ScaMo's parameter counts in paper units (REFERENCE.md §3).

    Args:
        layers: ``L``, transformer layers.
        dim: ``d``, model width.
        vocab_size: ``V``, the vocabulary size the fit uses.
        n_ctx: context length (201 in ScaMo: 150 text + 51 motion positions).

    Returns:
        ``{"non_vocab": 24 L d^2 + 2 L n_ctx d, "vocab": 2 V d, "total": their sum}``; compute is
        ``C = 3 * total * D`` for ``D`` training tokens (equal to ``6 N D``).
    """
    non_vocab = 24 * layers * dim * dim + 2 * layers * n_ctx * dim
    vocab = 2 * vocab_size * dim
    return {"non_vocab": non_vocab, "vocab": vocab, "total": non_vocab + vocab}


def vocab_params(codebook_size: int, num_codebooks: int, dim: int, head_bias: bool) -> int:
    """Parameters of the token embedding(s) (``V + 2`` rows each) and head(s) (``V + 1``)."""
    rows = num_codebooks * (codebook_size + 2)
    outs = num_codebooks * (codebook_size + 1)
    return rows * dim + outs * dim + (outs if head_bias else 0)


def param_dict(vocab: int, non_vocab: int) -> dict[str, int]:
    return {"vocab": vocab, "non_vocab": non_vocab, "total": vocab + non_vocab}
