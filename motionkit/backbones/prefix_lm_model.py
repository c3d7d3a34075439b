"""The ScaMo text-prefix LM as a torch module (Lu et al., "ScaMo", CVPR 2025; REFERENCE.md §2).

Sequence: the projected text features, then the motion tokens. Attention is bidirectional inside
the text, causal over motion, and motion sees all valid text; no BOS: the last text position
predicts motion token 0.

Padding: captions in a batch have different lengths, so the valid text of every row is moved to
the end of the prefix (left padding): the prefix always ends at position ``L - 1`` and motion
token ``t`` always sits at position ``L + t``, in every row. Padded keys are masked, and the rotary
positions are per row (``0 .. len - 1`` for the valid text, ``len + t`` for motion token ``t``),
so a row computes exactly what it computes alone, whatever the other rows' lengths.

Masks and cache. The stack is an x-transformers ``Encoder`` (no built-in causal mask): every call
passes its mask explicitly, so the SDPA (``flash``) path, which ignores a per-call ``causal``,
gives the same results.

* ``forward``: one pass over text + motion with the full mask (bidirectional text block, causal
  motion, padded keys masked) as ``attn_mask``;
* ``start``: the text alone, bidirectional with the key padding mask (``self_attn_kv_mask``);
* ``step``: one motion token attending to the cached keys/values, handed to x-transformers as
  ``self_attn_additional_kv`` with their padding mask (``additional_kv_mask``); a single query
  needs no causal mask.

Why not x-transformers' own ``cache=``: it refuses an ``attn_mask`` (and ``PrefixDecoder``), which
is workable (prefill non-causal with a key mask, then cached steps with ``self_attn_kv_mask``, it
matches to 2e-6), but it caches keys before the rotary embedding and re-rotates every cached key
at every step (``apply_rotary_pos_emb`` over ``(B, H, n, d)`` per layer). Keeping the keys already
rotated in per-layer buffers preallocated for ``L + max_motion_tokens`` positions (the new key is
rotated once, with x-transformers' own ``apply_rotary_pos_emb``) removes that work, a sizeable part
of a step at the 44M shape on CPU. Per-row masks and rotary frequencies are built once in
``start`` and sliced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from x_transformers import Encoder
from x_transformers.x_transformers import apply_rotary_pos_emb

from motionkit.backbones.base import Vocabulary
from motionkit.backbones.layers import BackboneModule, drop_glu_bias, llama_stack_kwargs
from motionkit.text.base import TextFeatures


@dataclass(frozen=True)
class PrefixLMState:
    """Decoding state of ``PrefixLM``.

    Attributes:
        keys: per layer ``(B, H, L + max_motion_tokens, head_dim)`` rotated keys, valid up to
            ``length``.
        values: per layer values, same shape.
        key_mask: ``(B, L + max_motion_tokens)`` bool, valid keys (text padding False).
        freqs: ``(B, L + max_motion_tokens, head_dim)`` rotary frequencies of every position.
        length: positions filled (``L`` + motion tokens fed).
        text_len: ``L``, the padded prefix length.
        filled: how far the shared buffers are written, shared by the states stepped from one
            ``start``; a state stepped a second time (``filled != length``) copies its buffers
            first, so that branching from an old state is correct.
    """

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    key_mask: torch.Tensor
    freqs: torch.Tensor
    length: int
    text_len: int
    filled: list[int]


def left_align(features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the valid tokens of every row to the end (order kept): ``(features, mask)``."""
    order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)
    features = torch.gather(features, 1, order[..., None].expand_as(features))
    return features, torch.gather(mask, 1, order)


class PrefixLM(BackboneModule):
    """LLaMA-style decoder over ``[text prefix, motion tokens]`` (see the module docstring).

    Args:
        vocab: the generator's vocabulary.
        text_dim: width of the text features.
        layers: transformer layers.
        heads: attention heads.
        dim: model width.
        hidden: SwiGLU hidden width.
        flash: use x-transformers' SDPA attention path.
        max_motion_tokens: the most motion tokens (END included) of a sequence.
        max_text_tokens: the most valid text tokens of a caption.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        text_dim: int,
        *,
        layers: int,
        heads: int,
        dim: int,
        hidden: int,
        flash: bool = False,
        max_motion_tokens: int = 50,
        max_text_tokens: int = 77,
    ) -> None:
        super().__init__(vocab, dim, max_motion_tokens, max_text_tokens)
        self.text_proj = nn.Linear(text_dim, dim, bias=True)
        self.layers = Encoder(**llama_stack_kwargs(dim, layers, heads, hidden, flash=flash))
        drop_glu_bias(self.layers)

    def _prefix(self, text: TextFeatures) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-aligned projected text ``(B, L, d)``, its mask, per-row positions ``(B, L + M)``."""
        self.check_text(text)
        features, mask = left_align(text.features, text.mask)
        length = features.shape[1]
        offset = length - mask.sum(dim=1, keepdim=True)
        positions = torch.arange(length + self.max_motion_tokens, device=mask.device) - offset
        return self.text_proj(features), mask, positions

    def forward(self, tokens: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        """Logits ``(B, T + 1, [Q,] V + 1)`` of motion tokens ``(B, T[, Q])`` given the text."""
        self.check_inputs(tokens, text)
        prefix, text_mask, positions = self._prefix(text)
        batch, length = text_mask.shape
        steps = tokens.shape[1]
        x = torch.cat([prefix, self.tokens.embed(tokens)], dim=1)
        n = length + steps
        index = torch.arange(n, device=x.device)
        allowed = (index[None, :] <= index[:, None]) | (index[None, :] < length)
        keys = torch.cat([text_mask, text_mask.new_ones(batch, steps)], dim=1)
        attn_mask = (allowed[None] & keys[:, None, :])[:, None]
        hidden = self.layers(x, attn_mask=attn_mask, pos=positions[:, :n])
        return self.tokens.logits(hidden[:, length - 1 :])

    @torch.no_grad()
    def start(self, text: TextFeatures) -> tuple[torch.Tensor, PrefixLMState]:
        """Prefill the text prefix: logits ``(B, [Q,] V + 1)`` of motion token 0, and the state."""
        prefix, text_mask, positions = self._prefix(text)
        batch, length = text_mask.shape
        total = length + self.max_motion_tokens
        freqs, _ = self.layers.rotary_pos_emb(positions)
        key_mask = torch.cat([text_mask, text_mask.new_ones(batch, self.max_motion_tokens)], dim=1)
        hidden, inter = self.layers(
            prefix,
            self_attn_kv_mask=text_mask,
            rotary_pos_emb=(freqs[:, :length], 1.0),
            return_hiddens=True,
        )
        keys, values = [], []
        for layer in inter.attn_intermediates:
            k, v = layer.cached_kv  # (B, H, L, head_dim), keys before the rotary embedding
            key_buffer = k.new_empty(batch, k.shape[1], total, k.shape[3])
            value_buffer = torch.empty_like(key_buffer)
            key_buffer[:, :, :length] = apply_rotary_pos_emb(k, freqs[:, :length])
            value_buffer[:, :, :length] = v
            keys.append(key_buffer)
            values.append(value_buffer)
        state = PrefixLMState(
            tuple(keys), tuple(values), key_mask, freqs, length, length, filled=[length]
        )
        return self.tokens.logits(hidden[:, -1]), state

    @torch.no_grad()
    def step(
        self, tokens: torch.Tensor, state: PrefixLMState
    ) -> tuple[torch.Tensor, PrefixLMState]:
        """Feed motion tokens ``(B[, Q])``; logits ``(B, [Q,] V + 1)`` of the next token."""
        n = state.length
        self.check_step(tokens, n - state.text_len)
        keys, values, filled = state.keys, state.values, state.filled
        if filled[0] != n:  # this state was stepped before: keep its successors' buffers intact
            keys = tuple(k.clone() for k in keys)
            values = tuple(v.clone() for v in values)
            filled = [n]
        freqs = state.freqs[:, n : n + 1]
        hidden, inter = self.layers(
            self.tokens.embed(tokens[:, None]),
            self_attn_additional_kv=[
                (k[:, :, :n], v[:, :, :n]) for k, v in zip(keys, values, strict=True)
            ],
            additional_kv_mask=state.key_mask[:, :n],
            rotary_pos_emb=(freqs, 1.0),
            return_hiddens=True,
        )
        for layer, key_buffer, value_buffer in zip(
            inter.attn_intermediates, keys, values, strict=True
        ):
            k, v = layer.cached_kv  # (B, H, 1, head_dim), the new key before the rotary
            key_buffer[:, :, n : n + 1] = apply_rotary_pos_emb(k, freqs)
            value_buffer[:, :, n : n + 1] = v
        filled[0] = n + 1
        state = replace(state, keys=keys, values=values, length=n + 1, filled=filled)
        return self.tokens.logits(hidden[:, -1]), state

    def select(self, state: PrefixLMState, rows: torch.Tensor) -> PrefixLMState:
        """The state of batch rows ``rows`` (int64) only (new buffers)."""
        return replace(
            state,
            keys=tuple(k[rows] for k in state.keys),
            values=tuple(v[rows] for v in state.values),
            key_mask=state.key_mask[rows],
            freqs=state.freqs[rows],
            filled=[state.length],
        )
