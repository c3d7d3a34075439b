"""Generation and training speed of the generator at the ScaMo-44M shape, side by side in one run.

Usage: python benchmarks/generator_speed.py [--backbone prefix-lm] [--prompts 32]
       [--recompute-prompts 4] [--train-steps 6] [--out benchmarks/results/generator_speed.json]

Shape (REFERENCE.md §2): 8 layers, 8 heads, width 512 (the backbone's ``44M`` preset), a
512-code vocabulary (FSQ 8,8,8), 20 text tokens, 50 motion tokens per sequence.

* sampling, batched + KV cache: ``motionkit.generate.sample_tokens`` on ``--prompts`` captions at
  once (temperature 1 sampling), END refused until 50 tokens so every row runs the full length;
* sampling, batch 1 + full recomputation (the released ScaMo sampler's strategy): one caption at a
  time, the whole sequence through the backbone at every step, same weights, same sampling;
  ``--recompute-prompts`` captions are timed (tokens/s does not depend on how many);
* training: forward + cross-entropy + backward + AdamW step on batches of 32 x 50 tokens; tokens/s
  (motion tokens) and model FLOP utilisation = positions/s x (6 N + 6 L d n_ctx) / peak, where
  positions are text + motion (70 per sequence: the prefix runs through every layer too), N the
  non-vocabulary parameters plus the output head (the embedding lookup costs no matmul), and the
  peak the fp32 matmul rate (2048^3 products) measured in the same run.

Text features are fixed random 512-d vectors (what a frozen encoder hands over; its own cost is
not part of either sampler). Median of the timed repeats is recorded with the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import torch_environment
from torch import nn

from motionkit.backbones.base import Vocabulary
from motionkit.config.fields import from_preset
from motionkit.generate import Sampling, sample_tokens
from motionkit.generator.model import TextToMotion
from motionkit.registry import backbones
from motionkit.text.base import TextFeatures

TEXT_TOKENS, MOTION_TOKENS, TEXT_DIM, CODES = 20, 50, 512, 512


class FixedText(nn.Module):
    """A frozen stand-in encoder: the same random 20-token features for every caption."""

    trainable = False
    dim = TEXT_DIM
    max_tokens = TEXT_TOKENS

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.features = torch.randn(1, TEXT_TOKENS, TEXT_DIM, generator=gen)

    def forward(self, captions: list[str]) -> TextFeatures:
        n = len(captions)
        return TextFeatures(
            self.features.expand(n, -1, -1).clone(),
            torch.ones(n, TEXT_TOKENS, dtype=torch.bool),
            self.features.mean(1).expand(n, -1).clone(),
        )


def build(name: str) -> TextToMotion:
    torch.manual_seed(0)
    cfg = from_preset(backbones.get(name), "44M", name)
    backbone = cfg.build(
        vocab=Vocabulary(CODES),
        text_dim=TEXT_DIM,
        max_motion_tokens=MOTION_TOKENS + 1,
        max_text_tokens=TEXT_TOKENS,
    )
    return TextToMotion(FixedText(), backbone).eval()


def cached(model: TextToMotion, prompts: int) -> float:
    captions = [f"caption {i}" for i in range(prompts)]
    start = time.perf_counter()
    out = sample_tokens(model, captions, Sampling(), seeds=0, lengths=[MOTION_TOKENS] * prompts)
    elapsed = time.perf_counter() - start
    assert all(len(t) == MOTION_TOKENS for t in out)
    return prompts * MOTION_TOKENS / elapsed


def recompute(model: TextToMotion, prompts: int) -> float:
    """Batch 1, the full sequence through the backbone at every step (no cache)."""
    vocab = model.vocab
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(prompts):
            text = model.encode_text([f"caption {i}"])
            gen = torch.Generator().manual_seed(i)
            seq = torch.zeros(1, 0, dtype=torch.long)
            for _ in range(MOTION_TOKENS):
                logits = model(seq, text)[0, -1].float()
                logits[vocab.end] = float("-inf")
                token = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
                seq = torch.cat([seq, token[None]], dim=1)
    return prompts * MOTION_TOKENS / (time.perf_counter() - start)


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 8) -> float:
    """The best fp32 square-matmul rate over a few sizes (FLOP/s)."""
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def training(model: TextToMotion, steps: int, batch: int = 32) -> dict[str, float]:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    text = model.encode_text(["x"] * batch)
    tokens = torch.randint(0, CODES, (batch, MOTION_TOKENS - 1))
    targets = torch.cat([tokens, torch.full((batch, 1), model.vocab.end)], dim=1)
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        logits = model(tokens, text)
        flat = logits.reshape(-1, logits.shape[-1])
        loss = nn.functional.cross_entropy(flat, targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step:  # the first step allocates optimiser state
            times.append(time.perf_counter() - start)
    model.eval()
    per_step = statistics.median(times)
    return {"tokens_per_s": batch * MOTION_TOKENS / per_step, "s_per_step": per_step}


def markdown(result: dict) -> str:
    """The recorded result as a short markdown page."""
    env, shape = result["environment"], result["shape"]
    sampling, train = result["sampling"], result["training"]
    params = shape["params"]
    return f"""# Generator speed

Command: `{result["command"]}`

Machine: {env["machine"]}, {env["cpu"]}, {env["device"]}, torch {env["torch"]} with \
{env["torch_threads"]} threads

Shape: `{shape["backbone"]}` {shape["layers"]} layers, {shape["heads"]} heads, width \
{shape["dim"]}, {shape["codes"]} codes, {shape["text_tokens"]} text + {shape["motion_tokens"]} \
motion tokens; {params["non_vocab"]:,} non-vocabulary + {params["vocab"]:,} vocabulary parameters.

| sampling ({sampling["prompts"]} prompts x {shape["motion_tokens"]} tokens, END refused) \
| tokens/s |
|---|---|
| batched + KV cache (`motionkit.generate.sample_tokens`) | \
{sampling["cached_batched_tokens_per_s"]:,.0f} |
| batch 1 + full recomputation (the released ScaMo sampler's strategy) | \
{sampling["recompute_batch1_tokens_per_s"]:,.1f} |
| ratio | {sampling["speedup"]:.1f}x |

| training (batch 32, forward + backward + AdamW) | value |
|---|---|
| motion tokens/s | {train["tokens_per_s"]:,.0f} |
| model FLOPs per position (6 N + 6 L d n_ctx) | {train["flops_per_position"] / 1e6:,.0f} M |
| achieved | {train["achieved_gflops"]:,.0f} GFLOP/s |
| fp32 matmul peak, same run | {train["matmul_peak_gflops"]:,.0f} GFLOP/s |
| model FLOP utilisation | {100 * train["mfu"]:.0f}% |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="prefix-lm")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--recompute-prompts", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generator_speed.json"))
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    model = build(args.backbone)
    counts = model.backbone.param_counts()
    cached(model, 2)  # warm-up
    recompute(model, 1)
    cached_rates = [cached(model, args.prompts) for _ in range(args.repeats)]
    recompute_rates = [recompute(model, args.recompute_prompts) for _ in range(args.repeats)]
    peak = matmul_peak()
    train = training(model, args.train_steps)
    cfg = from_preset(backbones.get(args.backbone), "44M", args.backbone)
    layers, dim = cfg.layers, cfg.dim
    n_ctx = TEXT_TOKENS + MOTION_TOKENS
    flops_per_position = 6 * (counts["non_vocab"] + (CODES + 1) * dim) + 6 * layers * dim * n_ctx
    achieved = train["tokens_per_s"] * n_ctx / MOTION_TOKENS * flops_per_position
    result = {
        "command": " ".join(["python", *sys.argv]),
        "environment": torch_environment(),
        "shape": {
            "backbone": args.backbone,
            "layers": layers,
            "heads": cfg.heads,
            "dim": dim,
            "codes": CODES,
            "text_tokens": TEXT_TOKENS,
            "motion_tokens": MOTION_TOKENS,
            "params": counts,
        },
        "sampling": {
            "prompts": args.prompts,
            "cached_batched_tokens_per_s": statistics.median(cached_rates),
            "recompute_batch1_tokens_per_s": statistics.median(recompute_rates),
            "speedup": statistics.median(cached_rates) / statistics.median(recompute_rates),
            "scamo_released_sampler_tokens_per_s_reported": 43,
        },
        "training": {
            **train,
            "batch": 32,
            "flops_per_position": flops_per_position,
            "positions_per_sequence": n_ctx,
            "achieved_gflops": achieved / 1e9,
            "matmul_peak_gflops": peak / 1e9,
            "mfu": achieved / peak,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps({k: result[k] for k in ("sampling", "training")}, indent=2))


if __name__ == "__main__":
    main()
