"""The convolutional motion VAE (T2M-GPT / MoMask / ScaMo tokenizer), REFERENCE.md §1.

Shapes: motion ``(B, T, F)`` channel-last (``F`` = 263 for HumanML3D features), latents
``(B, T / 2**down_t, D)``, token indices ``(B, T / 2**down_t)`` (or ``(B, T', Q)`` for residual
quantizers). ``T`` must be a multiple of ``2**down_t``; ``MotionVAE.encode`` pads otherwise.

Encoder: ``Conv1d(F, W, 3)`` + act, then ``down_t`` x [``Conv1d(W, W, 4, stride 2)``,
``Resnet1D``], then ``Conv1d(W, D, 3)``. Decoder mirrors it with nearest up-sampling. A
``Resnet1D`` stack is ``depth`` pre-activation residual blocks
``x + Conv1x1(act(Conv3_dilated(act(x))))`` with dilations ``growth**i`` in reverse order
(``[9, 3, 1]`` for depth 3, growth 3), without normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionkit.quantizers.base import Quantizer, QuantizerOutput
from motionkit.tokenizer.config import MotionVAEConfig

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class ResBlock1D(nn.Module):
    """``x + Conv1x1(act(Conv3_dilated(act(x))))`` on ``(B, C, T)``."""

    def __init__(self, width: int, dilation: int, activation: str) -> None:
        super().__init__()
        self.act = _ACTIVATIONS[activation]()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(width, width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.proj(self.act(self.conv(self.act(x))))


def resnet1d(width: int, depth: int, growth: int, activation: str) -> nn.Sequential:
    """``depth`` residual blocks with dilations ``growth**i``, largest first."""
    dilations = [growth**i for i in range(depth)][::-1]
    return nn.Sequential(*(ResBlock1D(width, d, activation) for d in dilations))


class MotionEncoder(nn.Module):
    """``(B, F, T)`` -> ``(B, D, T / 2**down_t)``."""

    def __init__(self, in_dim: int, cfg: MotionVAEConfig) -> None:
        super().__init__()
        w, act = cfg.width, cfg.activation
        layers: list[nn.Module] = [nn.Conv1d(in_dim, w, 3, padding=1), _ACTIVATIONS[act]()]
        for _ in range(cfg.down_t):
            layers += [
                nn.Conv1d(w, w, 4, stride=2, padding=1),
                resnet1d(w, cfg.depth, cfg.dilation_growth, act),
            ]
        layers.append(nn.Conv1d(w, cfg.dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MotionDecoder(nn.Module):
    """``(B, D, T')`` -> ``(B, F, T' * 2**down_t)``."""

    def __init__(self, out_dim: int, cfg: MotionVAEConfig) -> None:
        super().__init__()
        w, act = cfg.width, cfg.activation
        layers: list[nn.Module] = [nn.Conv1d(cfg.dim, w, 3, padding=1), _ACTIVATIONS[act]()]
        for _ in range(cfg.down_t):
            layers += [
                resnet1d(w, cfg.depth, cfg.dilation_growth, act),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(w, w, 3, padding=1),
            ]
        layers += [
            nn.Conv1d(w, w, 3, padding=1),
            _ACTIVATIONS[act](),
            nn.Conv1d(w, out_dim, 3, padding=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@dataclass
class VAEOutput:
    """``reconstruction`` ``(B, T, F)`` plus the quantizer's output on the latents."""

    reconstruction: Tensor
    quantizer: QuantizerOutput


class MotionVAE(nn.Module):
    """Encoder -> quantizer -> decoder over channel-last motion features.

    Args:
        cfg: architecture.
        quantizer: any built quantizer whose ``dim`` equals ``cfg.dim``.
        feature_dim: ``F``, the width of the motion features (from the data).
    """

    def __init__(self, cfg: MotionVAEConfig, quantizer: Quantizer, feature_dim: int) -> None:
        super().__init__()
        if quantizer.dim != cfg.dim:
            raise ValueError(f"quantizer width {quantizer.dim} != latent width {cfg.dim}")
        self.cfg = cfg
        self.feature_dim = feature_dim
        self.encoder = MotionEncoder(feature_dim, cfg)
        self.quantizer = quantizer
        self.decoder = MotionDecoder(feature_dim, cfg)

    @property
    def frames_per_token(self) -> int:
        return self.cfg.frames_per_token

    def _check(self, x: Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.feature_dim:
            raise ValueError(
                f"expected motion of shape (B, T, {self.feature_dim}), got {tuple(x.shape)}"
            )
        if x.shape[1] % self.frames_per_token:
            raise ValueError(
                f"T = {x.shape[1]} is not a multiple of {self.frames_per_token} frames per token"
            )

    def latents(self, x: Tensor) -> Tensor:
        """``(B, T, F)`` -> continuous latents ``(B, T', D)``."""
        self._check(x)
        return self.encoder(x.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: Tensor) -> VAEOutput:
        """Reconstruct ``x`` ``(B, T, F)`` through the quantizer."""
        q = self.quantizer(self.latents(x))
        recon = self.decoder(q.quantized.transpose(1, 2)).transpose(1, 2)
        return VAEOutput(recon, q)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """``(B, T, F)`` -> token indices ``(B, ceil(T / frames_per_token))`` (pads by repeat)."""
        pad = -x.shape[1] % self.frames_per_token
        if pad:
            x = torch.cat([x, x[:, -1:].expand(-1, pad, -1)], dim=1)
        return self.quantizer.encode(self.latents(x))

    @torch.no_grad()
    def decode(self, indices: Tensor) -> Tensor:
        """Token indices -> motion ``(B, T' * frames_per_token, F)``."""
        latents = self.quantizer.decode(indices)
        return self.decoder(latents.transpose(1, 2)).transpose(1, 2)


def reconstruction_loss(pred: Tensor, target: Tensor, kind: str) -> Tensor:
    """Mean L1, L2 or smooth-L1 between ``pred`` and ``target``."""
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "l2":
        return F.mse_loss(pred, target)
    return F.smooth_l1_loss(pred, target)
