"""A text-motion retrieval model that any dataset can train, for the standard protocol's metrics.

The standard HumanML3D evaluator (Guo et al., CVPR 2022) exists for two datasets only. motionkit
trains the same kind of model on any prepared folder: a motion encoder over evaluator-normalised
features (foot contacts dropped, time down-sampled 4x by strided convolutions like the standard
movement encoder, residual convolutions, masked mean and max pooling) and a text encoder (any
registered one, its pooled vector), both projected into one unit-norm embedding space and trained
with a symmetric InfoNCE loss (CLIP-style). Distances between the embeddings are what R-precision,
FID, MM-Dist, diversity and multimodality are computed on.

An ``Evaluator`` takes *raw* features: it normalises them with its own statistics (never the
generator's), and refuses features of another width.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionkit.errors import MotionkitError
from motionkit.eval.config import EvaluatorConfig
from motionkit.text.holder import TextEncoderHolder

CONTACT_DIMS = 4


class MotionEncoder(nn.Module):
    """``(B, T, D)`` normalised features + lengths -> ``(B, dim)`` unit-norm embeddings."""

    def __init__(self, in_dim: int, cfg: EvaluatorConfig) -> None:
        super().__init__()
        w = cfg.width
        self.down = nn.Sequential(
            nn.Conv1d(in_dim, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(w, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(w, w, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv1d(w, w, 1))
            for _ in range(cfg.layers)
        )
        self.out = nn.Sequential(nn.Linear(2 * w, w), nn.LeakyReLU(0.2), nn.Linear(w, cfg.dim))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.down(x.transpose(1, 2))  # (B, w, T / 4)
        for block in self.blocks:
            h = h + block(h)
        steps = torch.arange(h.shape[-1], device=h.device)
        valid = steps[None, :] < torch.clamp(lengths // 4, min=1)[:, None]  # (B, T / 4)
        mask = valid[:, None, :].to(h.dtype)
        mean = (h * mask).sum(-1) / mask.sum(-1)
        peak = h.masked_fill(~valid[:, None, :], float("-inf")).amax(-1)
        return F.normalize(self.out(torch.cat([mean, peak], dim=-1)), dim=-1)


class RetrievalModel(TextEncoderHolder):
    """Text encoder + motion encoder into one embedding space.

    A frozen text encoder (MiniLM, T5, CLIP) is held outside the parameters and state dict.
    """

    def __init__(self, text_encoder: nn.Module, motion_dim: int, cfg: EvaluatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.motion_dim = motion_dim
        self.motion = MotionEncoder(motion_dim, cfg)
        text_dim = int(text_encoder.dim)
        self.text_proj = nn.Sequential(
            nn.Linear(text_dim, cfg.width), nn.LeakyReLU(0.2), nn.Linear(cfg.width, cfg.dim)
        )
        self.hold_text_encoder(text_encoder)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / cfg.temperature))))

    def embed_text(self, captions: list[str]) -> torch.Tensor:
        pooled = self.text_features(captions, self.logit_scale.device).pooled
        return F.normalize(self.text_proj(pooled), dim=-1)

    def embed_motion(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.motion(x, lengths)

    def loss(self, text: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE: row ``i`` of ``text`` matches row ``i`` of ``motion``."""
        scale = self.logit_scale.clamp(max=float(np.log(100.0))).exp()
        logits = scale * text @ motion.T
        target = torch.arange(len(text), device=text.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def pad_motions(
    motions: Sequence[np.ndarray], device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``(T_i, D)`` arrays into ``(B, T_max, D)`` with lengths ``(B,)``; T_max is rounded
    up to a multiple of 4 so that the two stride-2 convolutions line up."""
    longest = max(len(m) for m in motions)
    longest += (-longest) % 4
    out = np.zeros((len(motions), longest, motions[0].shape[1]), dtype=np.float32)
    for row, motion in enumerate(motions):
        out[row, : len(motion)] = motion
    lengths = torch.tensor([len(m) for m in motions], dtype=torch.long)
    return torch.from_numpy(out).to(device), lengths.to(device)


class Evaluator:
    """Embeds captions and raw motion features with a trained retrieval model.

    Attributes:
        feature_dim: width of the raw features it accepts (263 HumanML3D, 251 KIT-ML, ...).
        description: what it is, recorded with every result.
    """

    def __init__(
        self,
        model: RetrievalModel,
        mean: np.ndarray,
        std: np.ndarray,
        description: str,
        batch_size: int = 128,
    ) -> None:
        self.model = model.eval()
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        self.feature_dim = int(mean.shape[0])
        self.description = description
        self.batch_size = batch_size
        self.drop_contacts = model.cfg.drop_contacts

    def _prepare(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise MotionkitError(
                f"this evaluator scores {self.feature_dim}-d features (its training data); got "
                f"motion of shape {features.shape}: evaluate on the same feature layout"
            )
        if not np.isfinite(features).all():
            raise MotionkitError("motion to score contains NaN or inf values")
        normalised = (features - self.mean) / self.std
        return normalised[:, :-CONTACT_DIMS] if self.drop_contacts else normalised

    def embed_motion(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, dim)`` embeddings of raw ``(T_i, D)`` feature arrays."""
        out = []
        device = self.model.logit_scale.device
        with torch.no_grad():
            for start in range(0, len(motions), self.batch_size):
                chunk = [self._prepare(m) for m in motions[start : start + self.batch_size]]
                x, lengths = pad_motions(chunk, device)
                out.append(self.model.embed_motion(x, lengths).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.cfg.dim), np.float32)

    def embed_captions(self, captions: Sequence[object]) -> np.ndarray:
        """``(N, dim)`` embeddings of ``Caption`` objects (their text) or strings."""
        return self.embed_text([getattr(c, "text", c) for c in captions])

    def embed_text(self, captions: Sequence[str]) -> np.ndarray:
        """``(N, dim)`` embeddings of captions."""
        out = []
        with torch.no_grad():
            for start in range(0, len(captions), self.batch_size):
                chunk = list(captions[start : start + self.batch_size])
                out.append(self.model.embed_text(chunk).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.cfg.dim), np.float32)
