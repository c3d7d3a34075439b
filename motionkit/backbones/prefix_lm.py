"""Text-prefix LM config: the ScaMo generator (Lu et al., "ScaMo: Exploring the Scaling Law in
Autoregressive Motion Generation Model", CVPR 2025; REFERENCE.md §2).

A LLaMA-style decoder over ``[projected text features, motion tokens]``: pre-RMSNorm, rotary
positions (base 10000) over the whole sequence, SwiGLU MLP of width ``8 d / 3`` rounded up to a
multiple of 256 (``ff_multiple``), no biases (but the text projection ``Linear(text_dim, d)``), no
dropout. Bidirectional attention inside the text, causal over motion; the last text position
predicts motion token 0 (no BOS). Presets: ``tiny`` and ScaMo's six sizes, whose names are their
parameter counts with the 15360-code vocabulary and 2048-d text features.

Torch-free at import; ``PrefixLMConfig.build`` imports torch and x-transformers
(``motionkit.backbones.prefix_lm_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from motionkit.backbones.base import Vocabulary
from motionkit.backbones.common import (
    PAPER_N_CTX,
    REFERENCE_TEXT_DIM,
    SCAMO_SIZES,
    check_shape,
    paper_params,
    param_dict,
    swiglu_hidden,
    vocab_params,
)
from motionkit.config.fields import option
from motionkit.registry import backbones

if TYPE_CHECKING:
    from motionkit.backbones.prefix_lm_model import PrefixLM


@backbones.register("prefix-lm")
@dataclass(frozen=True)
class PrefixLMConfig:
    """Text-prefix LLaMA-style decoder (ScaMo, CVPR 2025): bidirectional text, causal motion."""

    layers: int = option(8, help="transformer layers L")
    heads: int = option(8, help="attention heads (head width dim / heads)")
    dim: int = option(512, help="model width d")
    ff_multiple: int = option(
        256, help="SwiGLU hidden width = 8 d / 3 rounded up to a multiple of this"
    )
    flash: bool = option(
        False, help="use PyTorch SDPA attention kernels (no faster on CPU; same results)"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"layers": 2, "heads": 2, "dim": 32, "ff_multiple": 32},
        **{
            name: {"layers": layers, "heads": heads, "dim": dim}
            for name, (layers, heads, dim) in SCAMO_SIZES.items()
        },
    }

    def __post_init__(self) -> None:
        check_shape(self.layers, self.heads, self.dim)
        swiglu_hidden(self.dim, self.ff_multiple)

    @property
    def hidden(self) -> int:
        """SwiGLU hidden width."""
        return swiglu_hidden(self.dim, self.ff_multiple)

    def estimate_params(
        self, vocab: Vocabulary, text_dim: int = REFERENCE_TEXT_DIM
    ) -> dict[str, int]:
        """``param_counts()`` of the built module, from arithmetic (nothing is built)."""
        d, h = self.dim, self.hidden
        block = 4 * d * d + 3 * d * h + 2 * d  # attention, SwiGLU, two RMSNorm gains
        non_vocab = self.layers * block + d + text_dim * d + d  # + final norm, text projection
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
    ) -> PrefixLM:
        """The backbone for ``vocab`` and ``text_dim``-wide text features."""
        from motionkit.backbones.prefix_lm_model import PrefixLM

        return PrefixLM(
            vocab,
            text_dim,
            layers=self.layers,
            heads=self.heads,
            dim=self.dim,
            hidden=self.hidden,
            flash=self.flash,
            max_motion_tokens=max_motion_tokens,
            max_text_tokens=max_text_tokens,
        )
