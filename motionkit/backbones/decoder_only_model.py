"""The T2M-GPT generator as a torch module (Zhang et al., "T2M-GPT: Generating Human Motion from
Textual Descriptions with Discrete Representations", CVPR 2023).

Sequence: one condition token (the pooled text vector, projected), then the motion tokens; a
causal GPT stack (LayerNorm, GELU MLP, learned absolute positions, dropout). The condition token
predicts motion token 0. Only the pooled vector enters, so text padding never matters; the stack is
plainly causal, so the x-transformers KV cache applies without any mask.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from x_transformers import Decoder
from x_transformers.x_transformers import LayerIntermediates

from motionkit.backbones.base import Vocabulary
from motionkit.backbones.layers import INIT_STD, BackboneModule, select_cache, slim_cache
from motionkit.text.base import TextFeatures


@dataclass(frozen=True)
class DecoderOnlyState:
    """Decoding state of ``DecoderOnly``: the KV cache and the positions in it."""

    cache: LayerIntermediates
    length: int


class DecoderOnly(BackboneModule):
    """Causal GPT over ``[text token, motion tokens]`` (see the module docstring).

    Args:
        vocab: the generator's vocabulary.
        text_dim: width of the pooled text vector.
        layers: transformer layers.
        heads: attention heads.
        dim: model width.
        ff_mult: MLP hidden width as a multiple of ``dim``.
        dropout: dropout of the embeddings, attention weights and MLP.
        flash: use x-transformers' SDPA attention path.
        max_motion_tokens: the most motion tokens (END included) of a sequence.
        max_text_tokens: kept for the common interface (only the pooled vector is used).
    """

    def __init__(
        self,
        vocab: Vocabulary,
        text_dim: int,
        *,
        layers: int,
        heads: int,
        dim: int,
        ff_mult: int = 4,
        dropout: float = 0.1,
        flash: bool = False,
        max_motion_tokens: int = 50,
        max_text_tokens: int = 77,
    ) -> None:
        super().__init__(vocab, dim, max_motion_tokens, max_text_tokens)
        self.text_proj = nn.Linear(text_dim, dim, bias=True)
        self.positions = nn.Embedding(max_motion_tokens + 1, dim)
        nn.init.normal_(self.positions.weight, std=INIT_STD)
        self.drop = nn.Dropout(dropout)
        self.layers = Decoder(
            dim=dim,
            depth=layers,
            heads=heads,
            attn_dim_head=dim // heads,
            ff_mult=ff_mult,
            attn_dropout=dropout,
            ff_dropout=dropout,
            attn_flash=flash,
            verbose=False,
        )

    def _condition(self, text: TextFeatures) -> torch.Tensor:
        return self.text_proj(text.pooled)[:, None] + self.positions.weight[0]

    def forward(self, tokens: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        """Logits ``(B, T + 1, [Q,] V + 1)`` of motion tokens ``(B, T[, Q])`` given the text."""
        self.check_inputs(tokens, text)
        steps = tokens.shape[1]
        motion = self.tokens.embed(tokens) + self.positions.weight[1 : steps + 1]
        x = self.drop(torch.cat([self._condition(text), motion], dim=1))
        return self.tokens.logits(self.layers(x))

    @torch.no_grad()
    def start(self, text: TextFeatures) -> tuple[torch.Tensor, DecoderOnlyState]:
        """Logits ``(B, [Q,] V + 1)`` of motion token 0, and the decoding state."""
        hidden, cache = self.layers(self._condition(text), return_hiddens=True)
        return self.tokens.logits(hidden[:, -1]), DecoderOnlyState(slim_cache(cache), 1)

    @torch.no_grad()
    def step(
        self, tokens: torch.Tensor, state: DecoderOnlyState
    ) -> tuple[torch.Tensor, DecoderOnlyState]:
        """Feed motion tokens ``(B[, Q])``; logits ``(B, [Q,] V + 1)`` of the next token."""
        self.check_step(tokens, state.length - 1)
        x = self.tokens.embed(tokens[:, None]) + self.positions.weight[state.length]
        hidden, cache = self.layers(x, cache=state.cache, return_hiddens=True)
        logits = self.tokens.logits(hidden[:, -1])
        return logits, DecoderOnlyState(slim_cache(cache), state.length + 1)

    def select(self, state: DecoderOnlyState, rows: torch.Tensor) -> DecoderOnlyState:
        """The state of batch rows ``rows`` (int64) only."""
        return replace(state, cache=select_cache(state.cache, rows))
