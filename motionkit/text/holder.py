"""A module that owns a text encoder: trained encoders as submodules, frozen ones beside it.

A frozen pretrained encoder (MiniLM, T5, CLIP) is not trained and not saved with a run, so it is
kept out of the parameters and the state dict, yet follows the module across devices and dtypes.
Used by the generator (``TextToMotion``) and the retrieval evaluator (``RetrievalModel``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from motionkit.text.base import TextFeatures


class TextEncoderHolder(nn.Module):
    """Base class: call ``hold_text_encoder(encoder)`` in ``__init__``."""

    text_encoder: nn.Module | None
    _frozen: list[nn.Module]

    def hold_text_encoder(self, encoder: nn.Module) -> None:
        if getattr(encoder, "trainable", False):
            self.text_encoder = encoder
            self._frozen = []
        else:
            self.text_encoder = None
            self._frozen = [encoder.eval().requires_grad_(False)]

    @property
    def encoder(self) -> nn.Module:
        """The text encoder, trained or frozen."""
        return self.text_encoder if self.text_encoder is not None else self._frozen[0]

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> TextEncoderHolder:
        super()._apply(fn, *args, **kwargs)
        for module in self._frozen:
            module._apply(fn, *args, **kwargs)
        return self

    def text_features(self, captions: list[str], device: torch.device) -> TextFeatures:
        """Features of ``captions`` on ``device`` (no gradients through a frozen encoder)."""
        if self.text_encoder is None:
            with torch.no_grad():
                return self._frozen[0](list(captions)).to(device)
        return self.text_encoder(list(captions)).to(device)
