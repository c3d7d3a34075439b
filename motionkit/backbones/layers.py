"""Torch pieces shared by the backbones: token embedding and heads, x-transformers stacks, caches.

* ``MotionTokens``: the input embedding (``V + 2`` rows per codebook) and the output head
  (``V + 1`` outputs per codebook) of the contract in ``motionkit.backbones.base``. With ``Q > 1``
  codebooks (residual quantizers) the ``Q`` tokens of one time step are embedded by one table per
  level and summed into one position, and ``Q`` heads read the same hidden state: the sequence
  keeps length ``T`` (flattening to ``T * Q`` positions would multiply attention cost by ``Q^2``
  and the cache by ``Q``), at the price of predicting the levels of a step independently given
  the past. The ``Q`` tables are stored as one ``nn.Embedding`` of ``Q * (V + 2)`` rows indexed
  with per-level offsets, and the ``Q`` heads as one ``Linear(d, Q * (V + 1))``: the same
  parameters as separate modules, one kernel call instead of ``Q``.
* ``llama_stack_kwargs`` / ``drop_glu_bias``: x-transformers options for LLaMA blocks (pre-RMSNorm,
  rotary, SwiGLU, no biases).
* ``slim_cache`` / ``select_cache``: the x-transformers KV cache reduced to its key/values, and
  indexed along the batch.
* ``BackboneModule``: the common base (attributes, ``param_counts``, input checks).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from x_transformers.attend import Intermediates
from x_transformers.x_transformers import GLU, LayerIntermediates

from motionkit.backbones.base import Vocabulary
from motionkit.text.base import TextFeatures

#: Standard deviation of the initial token embeddings, heads and learned positions (GPT-2).
INIT_STD = 0.02


class MotionTokens(nn.Module):
    """Embedding of ``Q`` codebooks (summed per time step) and ``Q`` output heads.

    Args:
        vocab: the generator's vocabulary.
        dim: model width ``d``.
        head_bias: whether the heads have a bias.
    """

    def __init__(self, vocab: Vocabulary, dim: int, head_bias: bool = False) -> None:
        super().__init__()
        self.vocab = vocab
        q = vocab.num_codebooks
        self.embedding = nn.Embedding(q * vocab.input_size, dim)
        self.head = nn.Linear(dim, q * vocab.output_size, bias=head_bias)
        nn.init.normal_(self.embedding.weight, std=INIT_STD)
        nn.init.normal_(self.head.weight, std=INIT_STD)
        if head_bias:
            nn.init.zeros_(self.head.bias)
        offsets = torch.arange(q, dtype=torch.long) * vocab.input_size
        self.register_buffer("offsets", offsets, persistent=False)

    def check(self, tokens: torch.Tensor, ndim: int) -> None:
        """Raise ``ValueError`` unless ``tokens`` has the contract's shape and values.

        Args:
            tokens: ``(B, T)`` / ``(B, T, Q)`` (``ndim=2``) or ``(B,)`` / ``(B, Q)`` (``ndim=1``).
            ndim: the number of dimensions without the codebook axis.
        """
        q = self.vocab.num_codebooks
        want = ndim if q == 1 else ndim + 1
        if tokens.ndim != want or (q > 1 and tokens.shape[-1] != q):
            shape = ("B", "T")[:ndim] + (("Q",) if q > 1 else ())
            raise ValueError(
                f"motion tokens must have shape ({', '.join(shape)}) with Q={q}, "
                f"got {tuple(tokens.shape)}"
            )
        if tokens.dtype != torch.long:
            raise ValueError(f"motion tokens must be int64, got {tokens.dtype}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() > self.vocab.pad):
            raise ValueError(
                f"motion tokens must lie in [0, {self.vocab.pad}] (codes, END={self.vocab.end}, "
                f"PAD={self.vocab.pad}), got values in [{int(tokens.min())}, {int(tokens.max())}]"
            )

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` or ``(B, T, Q)`` token ids -> ``(B, T, d)`` embeddings."""
        if self.vocab.num_codebooks == 1:
            return self.embedding(tokens)
        return self.embedding(tokens + self.offsets).sum(dim=-2)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(..., d)`` hidden states -> ``(..., V + 1)`` or ``(..., Q, V + 1)`` logits."""
        out = self.head(hidden)
        if self.vocab.num_codebooks == 1:
            return out
        return out.unflatten(-1, (self.vocab.num_codebooks, self.vocab.output_size))


def ff_mult(dim: int, hidden: int) -> float:
    """The ``ff_mult`` for which x-transformers' ``int(dim * mult)`` is exactly ``hidden``."""
    mult = hidden / dim
    if int(dim * mult) != hidden:  # float rounding below the integer
        mult = math.nextafter(mult, math.inf)
    if int(dim * mult) != hidden:
        raise ValueError(f"cannot express a feed-forward width of {hidden} for dim {dim}")
    return mult


def llama_stack_kwargs(
    dim: int, depth: int, heads: int, hidden: int, dropout: float = 0.0, flash: bool = False
) -> dict[str, Any]:
    """x-transformers ``AttentionLayers`` options for LLaMA blocks.

    Pre-RMSNorm (x-transformers' ``RMSNorm``: ``x / ||x|| * sqrt(d) * g``, ``g`` stored with a
    unit offset, no epsilon inside the root), rotary positions over the full head width (base
    10000), SwiGLU feed-forward of width ``hidden``, bias-free attention and output projections.
    The GLU input projection of x-transformers always has a bias: remove it with
    ``drop_glu_bias`` after building.
    """
    return {
        "dim": dim,
        "depth": depth,
        "heads": heads,
        "attn_dim_head": dim // heads,
        "use_rmsnorm": True,
        "rotary_pos_emb": True,
        "rotary_emb_dim": dim // heads,
        "ff_glu": True,
        "ff_swish": True,
        "ff_mult": ff_mult(dim, hidden),
        "ff_no_bias": True,
        "attn_dropout": dropout,
        "ff_dropout": dropout,
        "attn_flash": flash,
        "verbose": False,
    }


def drop_glu_bias(module: nn.Module) -> None:
    """Remove the bias of every x-transformers GLU input projection inside ``module``."""
    for sub in module.modules():
        if isinstance(sub, GLU):
            sub.proj.bias = None


def slim_cache(cache: LayerIntermediates) -> LayerIntermediates:
    """The KV cache of an x-transformers call with everything but the key/values dropped.

    The returned intermediates also hold attention maps and hidden states; keeping only the
    ``cached_kv`` of each attention layer frees them between decoding steps.
    """
    return LayerIntermediates(
        attn_intermediates=[Intermediates(cached_kv=i.cached_kv) for i in cache.attn_intermediates],
        cache_length=cache.cache_length,
    )


def select_cache(cache: LayerIntermediates, rows: torch.Tensor) -> LayerIntermediates:
    """The KV cache of batch rows ``rows`` only (keys and values indexed along the batch)."""
    return LayerIntermediates(
        attn_intermediates=[
            Intermediates(cached_kv=(i.cached_kv[0][rows], i.cached_kv[1][rows]))
            for i in cache.attn_intermediates
        ],
        cache_length=cache.cache_length,
    )


class BackboneModule(nn.Module):
    """Common base of the built backbones: vocabulary, limits, ``param_counts`` and checks.

    Args:
        vocab: the generator's vocabulary.
        dim: model width.
        max_motion_tokens: the most motion tokens (END included) a sequence may have.
        max_text_tokens: the most valid text tokens a caption may have.
        head_bias: whether the output heads have a bias.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        dim: int,
        max_motion_tokens: int,
        max_text_tokens: int,
        head_bias: bool = False,
    ) -> None:
        super().__init__()
        if max_motion_tokens < 1 or max_text_tokens < 1:
            raise ValueError(
                "max_motion_tokens and max_text_tokens must be at least 1, got "
                f"{max_motion_tokens} and {max_text_tokens}"
            )
        self.vocab = vocab
        self.dim = dim
        self.max_motion_tokens = max_motion_tokens
        self.max_text_tokens = max_text_tokens
        self.tokens = MotionTokens(vocab, dim, head_bias=head_bias)

    def param_counts(self) -> dict[str, int]:
        """``{"vocab", "non_vocab", "total"}``: vocab = token embedding(s) + output head(s)."""
        vocab = sum(p.numel() for p in self.tokens.parameters())
        total = sum(p.numel() for p in self.parameters())
        return {"vocab": vocab, "non_vocab": total - vocab, "total": total}

    def check_inputs(self, tokens: torch.Tensor, text: TextFeatures) -> None:
        """Raise ``ValueError`` on a bad token tensor, batch mismatch or too long sequences."""
        self.tokens.check(tokens, ndim=2)
        if tokens.shape[0] != text.batch_size:
            raise ValueError(
                f"tokens have batch size {tokens.shape[0]} but the text {text.batch_size}"
            )
        if tokens.shape[1] > self.max_motion_tokens:
            raise ValueError(
                f"{tokens.shape[1]} motion tokens exceed max_motion_tokens="
                f"{self.max_motion_tokens}; build the backbone with a larger limit"
            )

    def check_text(self, text: TextFeatures) -> None:
        """Raise ``ValueError`` on a row without valid text or with too many valid tokens."""
        counts = text.mask.sum(dim=1)
        if counts.numel() and int(counts.min()) < 1:
            raise ValueError("every text row needs at least one valid token (mask True)")
        if counts.numel() and int(counts.max()) > self.max_text_tokens:
            raise ValueError(
                f"a caption has {int(counts.max())} valid text tokens, more than max_text_tokens="
                f"{self.max_text_tokens}; build the backbone with a larger limit"
            )

    def check_step(self, tokens: torch.Tensor, fed: int) -> None:
        """Raise ``ValueError`` on a bad step input or when ``fed`` tokens were already fed."""
        self.tokens.check(tokens, ndim=1)
        if fed >= self.max_motion_tokens:
            raise ValueError(
                f"cannot feed more than max_motion_tokens={self.max_motion_tokens} motion tokens"
            )
