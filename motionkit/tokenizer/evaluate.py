"""Tokenizer evaluation on whole clips: reconstruction and codebook metrics.

Clips are cut to a multiple of the frames per token, reconstructed through the quantizer,
de-normalised, and compared as features (L1 on normalised features) and as joints recovered from
the features (MPJPE in mm, root-relative). Codes of all clips give usage and perplexity.
"""

from __future__ import annotations

import numpy as np
import torch

from motionkit.batching import equal_length_batches
from motionkit.data.humanml3d import MotionDataset
from motionkit.eval import tokenizer_metrics as tm
from motionkit.motion.features import recover_from_ric
from motionkit.motion.skeleton import skeleton_for_feature_dim
from motionkit.tokenizer.vae import MotionVAE


def normalised_clips(dataset: MotionDataset, mean: np.ndarray, std: np.ndarray) -> list:
    return [((c.features - mean) / std).astype(np.float32) for c in dataset.clips]


def evaluate(
    model: MotionVAE,
    clips: list[np.ndarray],
    mean: np.ndarray,
    std: np.ndarray,
    device: torch.device,
    batch_size: int = 32,
) -> dict[str, float]:
    """L1 (normalised), MPJPE (mm), codebook usage and perplexity over whole clips.

    Each clip is cut to a multiple of the frames per token; clips of one cut length run through
    the model together (up to ``batch_size``), which gives each clip what it gets alone (no
    padding is involved) at a fraction of the cost.
    """
    skeleton = skeleton_for_feature_dim(model.feature_dim)
    was_training = model.training
    model.eval()
    l1_sum = l1_count = 0.0
    errors, weights, codes = [], [], []
    fpt = model.frames_per_token
    cut = [len(c) - len(c) % fpt for c in clips]
    with torch.no_grad():
        for frames, rows in equal_length_batches(cut, batch_size):
            if frames < fpt:
                continue
            batch = np.stack([clips[i][:frames] for i in rows])
            out = model(torch.from_numpy(batch).to(device))
            recon = out.reconstruction.cpu().numpy()
            l1_sum += float(np.abs(recon - batch).sum())
            l1_count += recon.size
            pred = recover_from_ric(recon * std + mean, skeleton)
            true = recover_from_ric(batch * std + mean, skeleton)
            for i in range(len(batch)):
                errors.append(tm.mpjpe_mm(pred[i], true[i]))
                weights.append(frames)
            indices = out.quantizer.indices.cpu().numpy()
            codes.append(indices.reshape(-1, *indices.shape[2:]))  # (B*T,) or (B*T, Q)
    model.train(was_training)
    if not codes:
        return {}
    q = model.quantizer
    all_codes = np.concatenate(codes)
    return {
        "l1": l1_sum / l1_count,
        "mpjpe_mm": float(np.average(errors, weights=weights)),
        "usage": tm.codebook_usage(all_codes, q.codebook_size, q.num_codebooks),
        "perplexity": tm.perplexity(all_codes, q.codebook_size, q.num_codebooks),
    }
