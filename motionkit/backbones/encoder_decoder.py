"""Encoder-decoder config in the style of MotionGPT (Jiang et al., "MotionGPT: Human Motion as a
Foreign Language", NeurIPS 2023; REFERENCE.md §2): a text encoder over the projected text
features, a motion decoder cross-attending to it, a learned start token predicting token 0.

Both stacks use the LLaMA blocks of the prefix LM (pre-RMSNorm, rotary self-attention, SwiGLU,
no biases), with dropout 0.1 as in T5; MotionGPT's T5 has relative position biases where these
have rotary positions (both relative). Presets: ``tiny`` and the ScaMo size names, with depths
chosen so that the non-vocabulary parameters match the prefix LM of that name: an encoder layer
costs about ``12 d^2``, a decoder layer ``16 d^2`` (its cross-attention adds ``4 d^2``), so
``12 * encoder_layers + 16 * layers = 12 L``.

Torch-free at import; ``EncoderDecoderConfig.build`` imports torch and x-transformers
(``motionkit.backbones.encoder_decoder_model``).
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
    swiglu_hidden,
    vocab_params,
)
from motionkit.config.fields import option
from motionkit.registry import backbones

if TYPE_CHECKING:
    from motionkit.backbones.encoder_decoder_model import EncoderDecoder

#: (encoder layers, decoder layers) per ScaMo size name: 12 * enc + 16 * dec = 12 * L.
SIZE_DEPTHS: dict[str, tuple[int, int]] = {
    "44M": (4, 3),
    "111M": (4, 6),
    "343M": (8, 12),
    "775M": (12, 18),
    "1.4B": (16, 24),
    "3B": (8, 12),
}


@backbones.register("encoder-decoder")
@dataclass(frozen=True)
class EncoderDecoderConfig:
    """Text encoder + cross-attending motion decoder with a start token (MotionGPT style)."""

    encoder_layers: int = option(4, help="text encoder layers")
    layers: int = option(3, help="motion decoder layers")
    heads: int = option(8, help="attention heads (head width dim / heads)")
    dim: int = option(512, help="model width d")
    ff_multiple: int = option(
        256, help="SwiGLU hidden width = 8 d / 3 rounded up to a multiple of this"
    )
    dropout: float = option(0.1, help="dropout of attention weights and MLPs")
    flash: bool = option(
        False, help="use PyTorch SDPA attention kernels (no faster on CPU; same results)"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"encoder_layers": 2, "layers": 2, "heads": 2, "dim": 32, "ff_multiple": 32},
        **{
            name: {"encoder_layers": SIZE_DEPTHS[name][0], "layers": SIZE_DEPTHS[name][1]}
            | {"heads": heads, "dim": dim}
            for name, (_, heads, dim) in SCAMO_SIZES.items()
        },
    }

    def __post_init__(self) -> None:
        check_shape(self.layers, self.heads, self.dim)
        check_shape(self.encoder_layers, self.heads, self.dim, what="encoder_layers")
        check_dropout(self.dropout)
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
        encoder = self.encoder_layers * (4 * d * d + 3 * d * h + 2 * d) + d
        decoder = self.layers * (8 * d * d + 3 * d * h + 3 * d) + d
        non_vocab = encoder + decoder + text_dim * d + d + d  # + text projection, start token
        return param_dict(
            vocab_params(vocab.codebook_size, vocab.num_codebooks, d, head_bias=False), non_vocab
        )

    def paper_params(self, vocab_size: int, n_ctx: int = PAPER_N_CTX) -> dict[str, int]:
        """ScaMo's paper units with ``L`` = encoder + decoder layers (REFERENCE §3)."""
        return paper_params(self.encoder_layers + self.layers, self.dim, vocab_size, n_ctx)

    def build(
        self,
        vocab: Vocabulary,
        text_dim: int,
        max_motion_tokens: int = 50,
        max_text_tokens: int = 77,
    ) -> EncoderDecoder:
        """The backbone for ``vocab`` and ``text_dim``-wide text features."""
        from motionkit.backbones.encoder_decoder_model import EncoderDecoder

        return EncoderDecoder(
            vocab,
            text_dim,
            encoder_layers=self.encoder_layers,
            layers=self.layers,
            heads=self.heads,
            dim=self.dim,
            hidden=self.hidden,
            dropout=self.dropout,
            flash=self.flash,
            max_motion_tokens=max_motion_tokens,
            max_text_tokens=max_text_tokens,
        )
