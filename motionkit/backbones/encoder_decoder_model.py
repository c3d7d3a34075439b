"""The encoder-decoder generator as a torch module, in the style of MotionGPT (Jiang et al.,
"MotionGPT: Human Motion as a Foreign Language", NeurIPS 2023): a text encoder, a motion decoder
that cross-attends to it.

* Encoder: bidirectional LLaMA blocks (rotary, SwiGLU, RMSNorm) over the projected text features
  with their key padding mask. Text stays right-padded: valid tokens sit at positions ``0 .. len-1``
  in every row, pads are masked keys, so rows never see each other's lengths.
* Decoder: causal LLaMA blocks with cross-attention to the encoder output (``context_mask`` = the
  text mask) over ``[start, motion tokens]``; the learned start token predicts motion token 0.
* Cache: ``start`` encodes the text once and prefills the start token; x-transformers then keeps
  the self-attention key/values and the cross-attention key/values of the text, so ``step`` feeds
  one token against an empty context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from x_transformers import Decoder, Encoder
from x_transformers.x_transformers import LayerIntermediates

from motionkit.backbones.base import Vocabulary
from motionkit.backbones.layers import (
    INIT_STD,
    BackboneModule,
    drop_glu_bias,
    llama_stack_kwargs,
    select_cache,
    slim_cache,
)
from motionkit.text.base import TextFeatures


@dataclass(frozen=True)
class EncoderDecoderState:
    """Decoding state of ``EncoderDecoder``.

    Attributes:
        cache: x-transformers KV cache (self- and cross-attention key/values).
        context: ``(B, 0, d)`` empty context (x-transformers wants one with a cache).
        context_mask: ``(B, L)`` the text mask, for the cached cross-attention keys.
        freqs: ``(1, max_motion_tokens + 1, head_dim)`` rotary frequencies of the decoder.
        length: decoder positions in the cache (start token + motion tokens fed).
    """

    cache: LayerIntermediates
    context: torch.Tensor
    context_mask: torch.Tensor
    freqs: torch.Tensor
    length: int


class EncoderDecoder(BackboneModule):
    """Text encoder + cross-attending motion decoder (see the module docstring).

    Args:
        vocab: the generator's vocabulary.
        text_dim: width of the text features.
        encoder_layers: text encoder layers.
        layers: motion decoder layers.
        heads: attention heads.
        dim: model width.
        hidden: SwiGLU hidden width.
        dropout: dropout of attention weights and MLPs.
        flash: use x-transformers' SDPA attention path.
        max_motion_tokens: the most motion tokens (END included) of a sequence.
        max_text_tokens: the most valid text tokens of a caption.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        text_dim: int,
        *,
        encoder_layers: int,
        layers: int,
        heads: int,
        dim: int,
        hidden: int,
        dropout: float = 0.1,
        flash: bool = False,
        max_motion_tokens: int = 50,
        max_text_tokens: int = 77,
    ) -> None:
        super().__init__(vocab, dim, max_motion_tokens, max_text_tokens)
        self.text_proj = nn.Linear(text_dim, dim, bias=True)
        self.encoder = Encoder(
            **llama_stack_kwargs(dim, encoder_layers, heads, hidden, dropout=dropout, flash=flash)
        )
        self.decoder = Decoder(
            cross_attend=True,
            **llama_stack_kwargs(dim, layers, heads, hidden, dropout=dropout, flash=flash),
        )
        drop_glu_bias(self)
        self.start_token = nn.Parameter(torch.randn(dim) * INIT_STD)

    def encode(self, text: TextFeatures) -> torch.Tensor:
        """Encoder output ``(B, L, d)`` (padded positions are zero)."""
        self.check_text(text)
        return self.encoder(self.text_proj(text.features), mask=text.mask)

    def forward(self, tokens: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        """Logits ``(B, T + 1, [Q,] V + 1)`` of motion tokens ``(B, T[, Q])`` given the text."""
        self.check_inputs(tokens, text)
        memory = self.encode(text)
        start = self.start_token.expand(tokens.shape[0], 1, -1)
        x = torch.cat([start, self.tokens.embed(tokens)], dim=1)
        hidden = self.decoder(x, context=memory, context_mask=text.mask)
        return self.tokens.logits(hidden)

    @torch.no_grad()
    def start(self, text: TextFeatures) -> tuple[torch.Tensor, EncoderDecoderState]:
        """Encode the text and prefill the start token: logits of motion token 0, the state."""
        memory = self.encode(text)
        start = self.start_token.expand(memory.shape[0], 1, -1)
        positions = torch.arange(self.max_motion_tokens + 1, device=memory.device)
        freqs, _ = self.decoder.rotary_pos_emb(positions)
        hidden, cache = self.decoder(
            start,
            context=memory,
            context_mask=text.mask,
            rotary_pos_emb=(freqs[:, :1], 1.0),
            return_hiddens=True,
        )
        state = EncoderDecoderState(slim_cache(cache), memory[:, :0], text.mask, freqs, 1)
        return self.tokens.logits(hidden[:, -1]), state

    @torch.no_grad()
    def step(
        self, tokens: torch.Tensor, state: EncoderDecoderState
    ) -> tuple[torch.Tensor, EncoderDecoderState]:
        """Feed motion tokens ``(B[, Q])``; logits ``(B, [Q,] V + 1)`` of the next token."""
        self.check_step(tokens, state.length - 1)
        n = state.length + 1
        hidden, cache = self.decoder(
            self.tokens.embed(tokens[:, None]),
            context=state.context,
            context_mask=state.context_mask,
            cache=state.cache,
            rotary_pos_emb=(state.freqs[:, :n], 1.0),
            return_hiddens=True,
        )
        return self.tokens.logits(hidden[:, -1]), replace(state, cache=slim_cache(cache), length=n)

    def select(self, state: EncoderDecoderState, rows: torch.Tensor) -> EncoderDecoderState:
        """The state of batch rows ``rows`` (int64) only."""
        return replace(
            state,
            cache=select_cache(state.cache, rows),
            context=state.context[rows],
            context_mask=state.context_mask[rows],
        )
