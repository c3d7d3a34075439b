"""The torch side of the ``learned`` text encoder (see ``motionkit.text.learned``).

Shapes: captions ``list[str]`` (B) -> word ids ``(B, L)`` (``[CLS, words...]``, right-padded with
PAD, ``L`` = longest caption, at most ``max_tokens``) -> token embedding + position embedding ->
pre-norm transformer encoder (padding keys masked) -> final LayerNorm -> ``features (B, L, dim)``
with zeros on padding, ``mask (B, L)``, ``pooled (B, dim)`` = the CLS output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from motionkit.text.base import TextFeatures
from motionkit.text.common import check_captions
from motionkit.text.vocab import PAD_ID, WordVocab


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """``(length, dim)`` fixed sin/cos position table (Vaswani et al. 2017); odd ``dim`` allowed."""
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    half = (dim + 1) // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * (-math.log(10000.0) / half))
    table = torch.zeros(length, 2 * half, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table[:, :dim].float()


class LearnedTextEncoder(nn.Module):
    """Word embedding + positions + ``nn.TransformerEncoder``; trained with the generator.

    Attributes:
        vocab: the word vocabulary (saved with the run as ``text_vocab.json``).
        dim: width of ``features`` and ``pooled``.
        max_tokens: the most tokens per caption, CLS included.
        trainable: True (its weights are part of the generator's).
    """

    trainable = True

    def __init__(
        self,
        vocab: WordVocab,
        *,
        dim: int = 256,
        layers: int = 3,
        heads: int = 4,
        ff_mult: int = 4,
        dropout: float = 0.1,
        max_tokens: int = 128,
        positions: Literal["learned", "sinusoidal"] = "learned",
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.dim = dim
        self.max_tokens = max_tokens
        self.positions = positions
        self.token_emb = nn.Embedding(len(vocab), dim, padding_idx=PAD_ID)
        nn.init.normal_(self.token_emb.weight, std=0.02)
        with torch.no_grad():
            self.token_emb.weight[PAD_ID].zero_()
        if positions == "learned":
            self.pos_emb: nn.Embedding | None = nn.Embedding(max_tokens, dim)
            nn.init.normal_(self.pos_emb.weight, std=0.02)
        elif positions == "sinusoidal":
            self.pos_emb = None
            self.register_buffer(
                "pos_table", sinusoidal_positions(max_tokens, dim), persistent=False
            )
        else:
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {positions!r}")
        layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=heads,
            dim_feedforward=ff_mult * dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    @property
    def device(self) -> torch.device:
        return self.token_emb.weight.device

    def token_ids(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """int64 ids ``(B, L)`` right-padded with PAD and the bool mask ``(B, L)``."""
        rows = [self.vocab.encode(c, self.max_tokens) for c in check_captions(captions)]
        length = max((len(r) for r in rows), default=1)
        ids = torch.full((len(rows), length), PAD_ID, dtype=torch.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
        ids = ids.to(self.device)
        return ids, ids != PAD_ID

    def forward(self, captions: Sequence[str]) -> TextFeatures:
        """Features of ``captions`` (see the module docstring)."""
        ids, mask = self.token_ids(captions)
        x = self.token_emb(ids)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[: ids.shape[1]]
        else:
            x = x + self.pos_table[: ids.shape[1]].to(x.dtype)
        x = self.encoder(x, src_key_padding_mask=~mask)
        x = self.norm(x) * mask.unsqueeze(-1).to(x.dtype)
        return TextFeatures(features=x, mask=mask, pooled=x[:, 0])

    def extra_repr(self) -> str:
        return f"vocab={len(self.vocab)}, dim={self.dim}, max_tokens={self.max_tokens}"
