"""Frozen text encoders with a per-caption feature cache (the base of ``minilm``, ``t5``, ``clip``).

A frozen encoder is never trained: it stays in eval mode, its parameters do not require grad, and
it runs without autograd. Its output for a caption is therefore a constant, and
``FrozenTextEncoder`` keeps it in an in-memory dict keyed by the caption string: the token
features ``(L_i, d)`` (valid tokens only) and the pooled vector ``(d,)``, float32, on the CPU (the
cache of a large encoder can outgrow accelerator memory). A batch is assembled from the cache,
right-padded with zeros, and moved to the module's device.

Captions not yet cached are encoded together, once each, by the subclass's ``encode_batch``;
cached values are exact copies of what was computed, so a cache hit returns bit for bit what the
first computation returned. Recomputing a caption in another batch agrees to float rounding
(padding is masked out; only the batch shape of the kernels changes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from motionkit.text.base import TextFeatures
from motionkit.text.common import check_captions


class FrozenTextEncoder(nn.Module):
    """Base of pretrained, frozen text encoders; subclasses implement ``encode_batch``.

    Args:
        dim: width ``d`` of the features and the pooled vector.
        max_tokens: the most tokens per caption (longer captions are truncated).
        cache: keep each caption's output (see the module docstring).

    Attributes:
        dim, max_tokens: as given.
        trainable: False.
    """

    trainable = False

    def __init__(self, dim: int, max_tokens: int, *, cache: bool = True) -> None:
        super().__init__()
        self.dim = dim
        self.max_tokens = max_tokens
        self.use_cache = cache
        self._cache: dict[str, tuple[Tensor, Tensor]] = {}
        # follows .to(device) so that outputs land where the module is, parameters or not
        self.register_buffer("_device_probe", torch.empty(0), persistent=False)

    # -- to implement --------------------------------------------------------------------------

    def encode_batch(self, captions: list[str]) -> TextFeatures:
        """Features of ``captions`` on the module's device, computed now (no cache, no grad).

        ``mask`` must be True on exactly the caption's tokens, right-padded; what ``features``
        holds on padding does not matter.
        """
        raise NotImplementedError

    # -- the contract --------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    def freeze(self) -> FrozenTextEncoder:
        """Eval mode and no grad for every parameter (subclasses call it after loading)."""
        self.requires_grad_(False)
        return super().train(False)

    def train(self, mode: bool = True) -> FrozenTextEncoder:
        """Always eval mode: a frozen encoder never runs dropout."""
        return super().train(False)

    def clear_cache(self) -> None:
        """Forget every cached caption."""
        self._cache.clear()

    @property
    def cache_size(self) -> int:
        """How many captions are cached."""
        return len(self._cache)

    def forward(self, captions: Sequence[str]) -> TextFeatures:
        """``TextFeatures`` of ``captions`` (float32, on the module's device)."""
        captions = check_captions(captions)
        if not captions:
            return self._assemble([])
        if not self.use_cache:
            with torch.no_grad():
                out = self.encode_batch(captions)
            return _clean(out)
        missing = [c for c in dict.fromkeys(captions) if c not in self._cache]
        if missing:
            with torch.no_grad():
                out = _clean(self.encode_batch(missing))
            lengths = out.mask.sum(dim=1).tolist()
            features, pooled = out.features.cpu(), out.pooled.cpu()
            for i, caption in enumerate(missing):
                n = int(lengths[i])
                self._cache[caption] = (features[i, :n].clone(), pooled[i].clone())
        return self._assemble(captions)

    def _assemble(self, captions: list[str]) -> TextFeatures:
        rows = [self._cache[c] for c in captions]
        length = max((feats.shape[0] for feats, _ in rows), default=1)
        features = torch.zeros(len(rows), length, self.dim, dtype=torch.float32)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, (feats, _) in enumerate(rows):
            features[i, : feats.shape[0]] = feats
            mask[i, : feats.shape[0]] = True
        pooled = torch.stack([p for _, p in rows]) if rows else torch.zeros(0, self.dim)
        return TextFeatures(features, mask, pooled).to(self.device)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_tokens={self.max_tokens}, cache={self.use_cache}"


def _clean(out: TextFeatures) -> TextFeatures:
    """float32 features with zeros on padding, float32 pooled, bool mask, detached."""
    mask = out.mask.bool()
    features = out.features.detach().float().masked_fill(~mask.unsqueeze(-1), 0.0)
    return TextFeatures(features, mask, out.pooled.detach().float())
