"""The generator training stage as a ``train.Task``, and the two-stage pipeline.

Each training item is a clip's tokens (from the tokenizer run's export, computed when missing,
mirrored copies included) with one of its captions, drawn at random. Loss: next-token
cross-entropy on the motion tokens and END only (PAD ignored), with the T2M-GPT augmentations as
options: drop the first or the last token (``crop_prob``), replace input tokens by random codes
(``replace_prob``); and text-condition dropout for classifier-free guidance (``text_drop``).

Validation on the ``val`` split (first caption of each clip, no augmentation): cross-entropy per
token, token accuracy, the training tokens seen and the compute spent (``6 N D`` with the actual
parameters, and ScaMo's paper units ``3 (Nnv + Nv) D``), and the normalised loss Lu = mean over
motion positions (END included) of ``-log p(token) + log q(token)``, ``q`` the unigram frequency of
the token over the training tokens with one END per sequence (REFERENCE.md §3). With several
codebooks (residual quantizers) cross-entropy and accuracy are averaged over levels and Lu sums the
levels of a position (the position's joint log-likelihood ratio).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from motionkit.backbones.base import Vocabulary
from motionkit.config.run import RunConfig
from motionkit.errors import MotionkitError
from motionkit.generator.model import (
    UNIGRAM_FILE,
    build_generator,
    resolve_tokenizer,
    save_vocab,
)
from motionkit.io import atomic_write_text
from motionkit.tokenizer.export import log_unigram, tokens_for, unigram_table
from motionkit.train import distributed
from motionkit.train.checkpoint import checkpoint_step, start_run
from motionkit.train.loop import fit, pick_device
from motionkit.train.task import SeededSampling

IGNORE = -100


@dataclass(frozen=True)
class Pair:
    """A clip's tokens ``(T'[, Q])`` (END not included) and its captions."""

    id: str
    tokens: np.ndarray
    captions: tuple[str, ...]


def paired_items(
    data_cfg: Any, split: str, tokens: dict[str, np.ndarray], *, mirrors: bool, max_tokens: int
) -> list[Pair]:
    """Clips of ``split`` that have captions and tokens; sequences cut to ``max_tokens - 1``."""
    dataset = data_cfg.read(split, require_text=True, include_mirrors=mirrors)
    pairs = []
    for clip in dataset.clips:
        codes = tokens.get(clip.id)
        captions = tuple(c.text for c in clip.captions if c.text.strip())
        if codes is None or len(codes) == 0 or not captions:
            continue
        pairs.append(Pair(clip.id, codes[: max_tokens - 1], captions))
    return pairs


def collate(
    sequences: list[np.ndarray], vocab: Vocabulary, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs padded with PAD ``(B, T[, Q])`` and targets with END appended, padded with
    ``IGNORE`` ``(B, T + 1[, Q])``."""
    longest = max(len(s) for s in sequences)
    shape = (len(sequences), longest) + ((vocab.num_codebooks,) if vocab.num_codebooks > 1 else ())
    inputs = np.full(shape, vocab.pad, dtype=np.int64)
    targets = np.full((shape[0], longest + 1, *shape[2:]), IGNORE, dtype=np.int64)
    for row, seq in enumerate(sequences):
        inputs[row, : len(seq)] = seq
        targets[row, : len(seq)] = seq
        targets[row, len(seq)] = vocab.end
    return torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)


def token_losses(
    logits: torch.Tensor, targets: torch.Tensor, log_q: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Summed cross-entropy, correct predictions, Lu terms and counted positions of a batch.

    ``logits (B, T+1[, Q], V+1)``, ``targets (B, T+1[, Q])`` with ``IGNORE`` on padding,
    ``log_q (Q, V+1)``. Sums (not means) so that batches add up exactly.
    """
    if logits.dim() == 3:
        logits, targets = logits.unsqueeze(2), targets.unsqueeze(2)
    valid = targets != IGNORE
    safe = targets.clamp(min=0)
    logp = torch.log_softmax(logits.float(), dim=-1)
    token_logp = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T+1, Q)
    out = {
        "nll": -(token_logp * valid).sum(),
        "correct": ((logits.argmax(-1) == targets) & valid).sum(),
        "tokens": valid.sum(),
        "positions": valid[..., 0].sum(),
    }
    if log_q is not None:
        levels = torch.arange(logits.shape[2], device=logits.device)
        q = log_q[levels[None, None, :], safe]  # (B, T+1, Q)
        out["lu"] = ((-token_logp + q) * valid).sum()
    return out


class GeneratorTask(SeededSampling):
    """Text-conditioned next-token training on a tokenizer's tokens (module docstring)."""

    label = "training generator"
    unit = "tokens"
    best_metric = ("lu", "min")

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool) -> None:
        from motionkit.tokenizer.run import load_tokenizer

        self.train_cfg = config["train"]
        self.gen_cfg = gen_cfg = config["generator"]
        self.device = pick_device(self.train_cfg.device)
        data_cfg = config["dataset"]
        tokenizer_dir = resolve_tokenizer(run_dir, gen_cfg.tokenizer)
        vae, _, _, _ = load_tokenizer(tokenizer_dir)
        q = vae.quantizer
        self.vocab = Vocabulary(q.codebook_size, q.num_codebooks)
        tokens, _ = tokens_for(tokenizer_dir, data_cfg.prepare(), mirrors=gen_cfg.mirrors)
        self.train_pairs = paired_items(
            data_cfg, data_cfg.split, tokens, mirrors=gen_cfg.mirrors,
            max_tokens=gen_cfg.max_motion_tokens,
        )  # fmt: skip
        if not self.train_pairs:
            raise MotionkitError(
                f"no clip of split {data_cfg.split!r} in {data_cfg.folder} has both captions and "
                "tokens; the generator needs captioned clips (texts/<id>.txt)"
            )
        try:
            val = paired_items(
                data_cfg, "val", tokens, mirrors=False, max_tokens=gen_cfg.max_motion_tokens
            )
        except MotionkitError:
            val = []
        self.val_pairs = (val or self.train_pairs)[: gen_cfg.val_clips]
        table = unigram_table(
            {p.id: p.tokens for p in self.train_pairs}, q.codebook_size, q.num_codebooks
        )
        atomic_write_text(run_dir / UNIGRAM_FILE, _json(table))
        save_vocab(run_dir, self.vocab, tokenizer_dir, vae.frames_per_token)
        self.log_q = torch.from_numpy(log_unigram(table)).float().to(self.device)
        captions = sorted({c for p in self.train_pairs for c in p.captions})
        # seeded right before the model is built: loading or exporting the tokenizer above
        # draws from torch's generator only when its tokens are not cached yet
        torch.manual_seed(self.train_cfg.seed)
        self.model = build_generator(config, self.vocab, run_dir, captions).to(self.device)
        self.rng = np.random.default_rng(self.train_cfg.seed)
        # compute accounting, logged with every validation (REFERENCE.md §3)
        counts = self.model.backbone.param_counts()
        self.params = counts["total"]
        paper = config["backbone"].paper_params(q.codebook_size)
        self.paper_non_vocab, self.paper_vocab = paper["non_vocab"], paper["vocab"]
        self.tokens_seen = 0

    # -- batches ----------------------------------------------------------------------------

    def _augment(self, codes: np.ndarray) -> np.ndarray:
        cfg, rng = self.gen_cfg, self.rng
        if len(codes) > 1 and rng.random() < cfg.crop_prob:
            codes = codes[1:] if rng.random() < 0.5 else codes[:-1]
        return codes

    def next_batch(self) -> dict[str, Any]:
        rng, cfg = self.rng, self.gen_cfg
        picks = rng.integers(0, len(self.train_pairs), size=self.train_cfg.batch_size)
        sequences, captions = [], []
        for index in picks:
            pair = self.train_pairs[int(index)]
            sequences.append(self._augment(pair.tokens))
            caption = pair.captions[int(rng.integers(len(pair.captions)))]
            captions.append("" if rng.random() < cfg.text_drop else caption)
        inputs, targets = collate(sequences, self.vocab, self.device)
        if cfg.replace_prob > 0:
            noise = rng.random(inputs.shape) < cfg.replace_prob
            codes = rng.integers(0, self.vocab.codebook_size, size=inputs.shape)
            mask = torch.from_numpy(noise).to(self.device) & (inputs != self.vocab.pad)
            inputs = torch.where(mask, torch.from_numpy(codes).to(self.device), inputs)
        return {"inputs": inputs, "targets": targets, "captions": captions}

    def units(self, batch: dict[str, Any]) -> int:
        """Positions the loss averages over (weights the ranks of a distributed step)."""
        targets = batch["targets"]
        positions = targets[..., 0] if targets.dim() == 3 else targets
        return int(positions.ne(IGNORE).sum())

    def count(self, batch: dict[str, Any]) -> int:
        targets = batch["targets"]
        positions = targets[..., 0] if targets.dim() == 3 else targets
        tokens = int(positions.ne(IGNORE).sum())
        self.tokens_seen += tokens
        return tokens

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        logits = self.model(batch["inputs"], batch["captions"])
        targets = batch["targets"]
        flat = logits.reshape(-1, logits.shape[-1])
        loss = F.cross_entropy(
            flat.float(),
            targets.reshape(-1),
            ignore_index=IGNORE,
            label_smoothing=self.gen_cfg.label_smoothing,
        )
        with torch.no_grad():
            valid = targets != IGNORE
            acc = ((logits.argmax(-1) == targets) & valid).sum() / valid.sum().clamp(min=1)
        return loss, {"ce": loss.item(), "acc": acc.item()}

    # -- validation -------------------------------------------------------------------------

    def validate(self) -> dict[str, float]:
        scores = evaluate_pairs(self.model, self.val_pairs, self.vocab, self.log_q)
        d = self.tokens_seen
        return {
            **scores,
            "tokens_seen": d,
            "flops": 6.0 * self.params * d,
            "paper_flops": 3.0 * (self.paper_non_vocab + self.paper_vocab) * d,
            "paper_non_vocab": self.paper_non_vocab,
            "paper_vocab": self.paper_vocab,
        }

    def sampler_state(self) -> dict[str, Any]:
        return {**super().sampler_state(), "tokens_seen": self.tokens_seen}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        super().load_sampler_state(state)
        self.tokens_seen = int(state.get("tokens_seen", 0))


def evaluate_pairs(
    model: torch.nn.Module,
    pairs: list[Pair],
    vocab: Vocabulary,
    log_q: torch.Tensor,
    batch_size: int = 64,
) -> dict[str, float]:
    """Cross-entropy, accuracy and Lu of ``model`` on ``pairs`` (first caption each)."""
    totals: dict[str, float] = {}
    device = log_q.device
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            inputs, targets = collate([p.tokens for p in chunk], vocab, device)
            captions = [p.captions[0] for p in chunk]
            parts = token_losses(model(inputs, captions), targets, log_q)
            for key, value in parts.items():
                totals[key] = totals.get(key, 0.0) + float(value)
    if not totals:
        return {}
    return {
        "ce": totals["nll"] / totals["tokens"],
        "acc": totals["correct"] / totals["tokens"],
        "lu": totals["lu"] / totals["positions"],
    }


def _json(data: Any) -> str:
    import json

    return json.dumps(data) + "\n"


def train_generator(config: RunConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train (or resume) the generator of ``config`` into ``run_dir``; returns final val metrics."""
    with distributed.main_first():  # rank 0 exports tokens and writes the vocabulary first
        task = GeneratorTask(config, run_dir, resume=resume)
    return fit(task, config["train"], run_dir, resume=resume)


def _subconfig(
    config: RunConfig, stage: str, sections: tuple[str, ...], **changes: Any
) -> RunConfig:
    chosen = {name: config[name] for name in sections}
    for name, fields in changes.items():
        chosen[name] = dataclasses.replace(chosen[name], **fields)
    names = {k: v for k, v in config.names.items() if k in sections}
    return RunConfig(stage, MappingProxyType(chosen), MappingProxyType(names))


def _run_stage(config: RunConfig, run_dir: Path, resume: bool, trainer: Any) -> dict[str, float]:
    decision = start_run(run_dir, config, resume=resume, write=False)
    if decision is None:  # finished
        return {}
    distributed.barrier()  # every rank has decided on the folder as it was
    if distributed.world().main:
        start_run(run_dir, config, resume=resume)
    distributed.barrier()
    return trainer(config, run_dir, resume=decision)


def train_pipeline(config: RunConfig, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train the tokenizer into ``run_dir/tokenizer``, then the generator into
    ``run_dir/generator`` on its tokens.

    ``resume`` continues the unfinished stage: the tokenizer while the generator has no
    checkpoint yet, else only the generator (its tokens came from the tokenizer as it is).
    """
    from motionkit.tokenizer.task import train_tokenizer

    tok_dir, gen_dir = run_dir / "tokenizer", run_dir / "generator"
    tok_cfg = _subconfig(config, "tokenizer", ("dataset", "model", "quantizer", "train"))
    if resume and checkpoint_step(gen_dir) is not None:
        tok_metrics: dict[str, float] = {}  # the generator's tokens come from it: keep it as is
    else:
        tok_metrics = _run_stage(tok_cfg, tok_dir, resume, train_tokenizer)
    gen_cfg = _subconfig(
        config,
        "generator",
        ("dataset", "text_encoder", "backbone", "generator", "train"),
        generator={"tokenizer": ""},  # "": the pipeline's own tokenizer/ folder
    )
    gen_metrics = _run_stage(gen_cfg, gen_dir, resume, train_generator)
    out = {f"tokenizer_{k}": v for k, v in tok_metrics.items()}
    out.update({f"generator_{k}": v for k, v in gen_metrics.items()})
    return out
