"""The Backbone contract: motion tokens + text features -> next-token logits, and cached steps.

Vocabulary (REFERENCE.md §2), derived from the tokenizer, never typed twice: codes ``0..V-1``,
``END = V``, ``PAD = V + 1``. The input embedding has ``V + 2`` rows, the output head ``V + 1``
(no PAD). With ``Q`` codebooks (residual quantizers) tokens are ``(B, T, Q)``: one embedding per
level, summed, and one head per level (see ``Vocabulary``).

Shapes of ``forward(tokens, text)``:

* ``tokens``: int64 ``(B, T)`` (or ``(B, T, Q)``), motion tokens, right-padded with PAD
* ``text``: ``motionkit.text.TextFeatures`` (features ``(B, L, d_text)``, mask ``(B, L)``,
  pooled ``(B, d_text)``)
* returns logits ``(B, T + 1, V + 1)`` (or ``(B, T + 1, Q, V + 1)``): ``logits[:, t]`` predicts
  motion token ``t`` from the text and tokens ``< t``; ``logits[:, T]`` predicts the token after
  the last input (END for a complete sequence). No BOS is fed by the caller: position 0 is
  predicted from the text alone (the last text position, the pooled text token, or a start token,
  as the backbone defines).

Incremental decoding (KV cache), equal to ``forward`` to 1e-4:

* ``start(text) -> (logits (B, [Q,] V + 1), state)``: the prediction of token 0
* ``step(tokens (B,) or (B, Q), state) -> (logits, state)``: feed token ``t``, predict ``t + 1``
* ``select(state, rows) -> state``: keep only batch rows ``rows`` (int64), so that finished rows
  stop costing compute

Rows are independent: a row's logits never depend on other rows of the batch or their padding.

This module is torch-free at import so that configs and the registry load without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from motionkit.text.base import TextFeatures


@dataclass(frozen=True)
class Vocabulary:
    """Token ids of a generator, derived from the tokenizer's quantizer.

    Attributes:
        codebook_size: ``V``, codes per codebook.
        num_codebooks: ``Q``; 1 for FSQ / VQ, the number of levels for residual quantizers.
    """

    codebook_size: int
    num_codebooks: int = 1

    @property
    def end(self) -> int:
        """Index of END (``V``)."""
        return self.codebook_size

    @property
    def pad(self) -> int:
        """Index of PAD (``V + 1``); never predicted."""
        return self.codebook_size + 1

    @property
    def input_size(self) -> int:
        """Rows of the input embedding (per codebook): codes + END + PAD."""
        return self.codebook_size + 2

    @property
    def output_size(self) -> int:
        """Columns of the output head (per codebook): codes + END."""
        return self.codebook_size + 1

    def to_dict(self) -> dict[str, int]:
        return {"codebook_size": self.codebook_size, "num_codebooks": self.num_codebooks}


@runtime_checkable
class Backbone(Protocol):
    """Contract of a built backbone (a ``torch.nn.Module``); see the module docstring."""

    vocab: Vocabulary
    #: the most motion tokens (END included) a sequence may have
    max_motion_tokens: int

    def __call__(self, tokens: torch.Tensor, text: TextFeatures) -> torch.Tensor: ...

    def start(self, text: TextFeatures) -> tuple[torch.Tensor, Any]: ...

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...

    def select(self, state: Any, rows: torch.Tensor) -> Any: ...

    def param_counts(self) -> dict[str, int]:
        """``{"vocab": ..., "non_vocab": ..., "total": ...}`` of this module's parameters:
        vocabulary parameters are the token embedding(s) and output head(s)."""
        ...
