"""The TextEncoder contract: captions in, token features, a mask and a pooled vector out.

Shapes:

* input: ``list[str]`` of ``B`` captions (an empty string is allowed: it is the unconditional
  caption used for text-condition dropout and classifier-free guidance, and must still give at
  least one valid token)
* ``features``: ``(B, L, d)`` float32 per-token features (``L`` = longest caption in the batch,
  capped by the encoder's ``max_tokens``), right-padded
* ``mask``: ``(B, L)`` bool, True on real tokens; every row has at least one True
* ``pooled``: ``(B, d)`` float32 sentence vector

This module is torch-free at import so that configs and the registry load without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class TextFeatures:
    """What every text encoder returns for a batch of captions (see the module docstring)."""

    features: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor

    def to(self, device: torch.device | str) -> TextFeatures:
        return TextFeatures(self.features.to(device), self.mask.to(device), self.pooled.to(device))

    def index(self, rows: torch.Tensor) -> TextFeatures:
        """The rows ``rows`` (int64 ``(B',)``) of this batch."""
        return TextFeatures(self.features[rows], self.mask[rows], self.pooled[rows])

    @property
    def batch_size(self) -> int:
        return int(self.features.shape[0])


@runtime_checkable
class TextEncoder(Protocol):
    """Contract of a built text encoder (a ``torch.nn.Module``)."""

    #: width ``d`` of ``features`` and ``pooled``
    dim: int
    #: whether its parameters are trained with the generator (False: frozen, features cacheable)
    trainable: bool

    def __call__(self, captions: list[str]) -> TextFeatures: ...
