"""Decoder-only config: the T2M-GPT generator (Zhang et al., "T2M-GPT: Generating Human Motion
from Textual Descriptions with Discrete Representations", CVPR 2023; REFERENCE.md §2).

The pooled text vector (CLIP's sentence embedding in T2M-GPT) is projected and prepended as the
first token of a causal GPT stack with learned absolute positions: LayerNorm (gain only, as
x-transformers has it), GELU MLP ``ff_mult * d`` wide with biases, bias-free attention
projections, dropout 0.1 as in T2M-GPT. Presets: ``tiny`` and the ScaMo size names (same layers /
heads / width; the GELU MLP ``4 d`` wide has about as many weights as LLaMA's SwiGLU ``8 d / 3``).

Torch-free at import; ``DecoderOnlyConfig.build`` imports torch and x-transformers
(``motionkit.backbones.decoder_only_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.backbones.base import Vocabulary
from motionkit.backbones.common import (
    PAPER_N_CTX,
    REFERENCE_TEXT_DIM,
    SCAMO_SIZES,
    check_dropout,
    check_shape,
    paper_params,
    param_dict,
    vocab_params,
)
from motionkit.config.fields import option
from motionkit.registry import backbones

if TYPE_CHECKING:
    from motionkit.backbones.decoder_only_model import DecoderOnly


@backbones.register("decoder-only")
@dataclass(frozen=True)
class DecoderOnlyConfig:
    """Causal GPT with the pooled text vector as first token (T2M-GPT, CVPR 2023)."""

    layers: int = option(8, help="transformer layers L")
    heads: int = option(8, help="attention heads (head width dim / heads)")
    dim: int = option(512, help="model width d")
    ff_mult: int = option(4, help="GELU MLP hidden width as a multiple of d")
    dropout: float = option(0.1, help="dropout of embeddings, attention weights and MLP")
    flash: bool = option(
        False, help="use PyTorch SDPA attention kernels (no faster on CPU; same results)"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"layers": 2, "heads": 2, "dim": 32},
        **{
            name: {"layers": layers, "heads": heads, "dim": dim}
            for name, (layers, heads, dim) in SCAMO_SIZES.items()
        },
    }

    def __post_init__(self) -> None:
        check_shape(self.layers, self.heads, self.dim)
        check_dropout(self.dropout)
        if self.ff_mult < 1:
            raise ValueError(f"ff_mult must be at least 1, got {self.ff_mult}")

    def estimate_params(
        self,
        vocab: Vocabulary,
        text_dim: int = REFERENCE_TEXT_DIM,
        max_motion_tokens: int = 50,
    ) -> dict[str, int]:
        """``param_counts()`` of the built module, from arithmetic (nothing is built)."""
        d, h = self.dim, self.ff_mult * self.dim
        block = 4 * d * d + 2 * d * h + h + d + 2 * d  # attention, MLP with biases, 2 LayerNorms
        non_vocab = self.layers * block + d  # + final norm
        non_vocab += text_dim * d + d + (max_motion_tokens + 1) * d  # text projection, positions
        return param_dict(
            vocab_params(vocab.codebook_size, vocab.num_codebooks, d, head_bias=False), non_vocab
        )

    def paper_params(self, vocab_size: int, n_ctx: int = PAPER_N_CTX) -> dict[str, int]:
        """ScaMo's paper units: ``Nnv = 24 L d^2 + 2 L n_ctx d``, ``Nv = 2 V d`` (REFERENCE §3)."""
        return paper_params(self.layers, self.dim, vocab_size, n_ctx)

    def build(
        self,
        vocab: Vocabulary,
        text_dim: int,
        max_motion_tokens: int = 50,
        max_text_tokens: int = 77,
    ) -> DecoderOnly:
        """The backbone for ``vocab`` and a ``text_dim``-wide pooled text vector."""
        from motionkit.backbones.decoder_only_model import DecoderOnly

        return DecoderOnly(
            vocab,
            text_dim,
            layers=self.layers,
            heads=self.heads,
            dim=self.dim,
            ff_mult=self.ff_mult,
            dropout=self.dropout,
            flash=self.flash,
            max_motion_tokens=max_motion_tokens,
            max_text_tokens=max_text_tokens,
        )
