"""``motionkit check [KIND]``: build each component's ``tiny`` preset and exercise its contract.

A quick health check of an installation, plugins included: every quantizer is built, run on random
latents and its eval-mode round trip ``decode(encode(z)) == forward(z).quantized`` is verified;
every backbone is checked for shapes, causal leaks and cached-decoding equality; every text
encoder is run on a caption and on the empty caption (pretrained ones without local weights are
reported as skipped). Components of kinds without a runtime check have their presets validated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from motionkit.cli import console
from motionkit.config.fields import apply_preset, from_preset, presets
from motionkit.errors import MotionkitError
from motionkit.registry import REGISTRIES, Registry, get_registry


def check_quantizer(cls: type) -> str:
    """Build the tiny preset, run a batch, verify shapes, index range and round trip."""
    import torch

    torch.manual_seed(0)
    cfg = from_preset(cls, "tiny", cls.__name__)
    quantizer = cfg.build(dim=getattr(cfg, "dim", None) or 16).eval()
    z = torch.randn(4, 64, quantizer.dim)  # enough vectors to k-means-initialise a codebook
    with torch.no_grad():
        out = quantizer(z)
        decoded = quantizer.decode(quantizer.encode(z))
    if out.quantized.shape != z.shape:
        raise AssertionError(f"quantized shape {tuple(out.quantized.shape)} != {tuple(z.shape)}")
    if out.indices.dtype != torch.int64:
        raise AssertionError(f"indices dtype {out.indices.dtype}, expected int64")
    low, high = int(out.indices.min()), int(out.indices.max())
    if low < 0 or high >= quantizer.codebook_size:
        raise AssertionError(f"indices outside [0, {quantizer.codebook_size})")
    error = float((decoded - out.quantized).abs().max())
    if error > 1e-5:
        raise AssertionError(f"decode(encode(z)) differs from forward(z) by {error:.2e}")
    return (
        f"codebook {quantizer.codebook_size} x {quantizer.num_codebooks}, "
        f"indices {tuple(out.indices.shape)}, round-trip error {error:.1e}"
    )


def check_backbone(cls: type) -> str:
    """Tiny preset: logits shape, no causal leak, cached steps equal full recomputation."""
    import torch

    from motionkit.backbones.base import Vocabulary
    from motionkit.text.base import TextFeatures

    torch.manual_seed(0)
    vocab = Vocabulary(16)
    cfg = from_preset(cls, "tiny", cls.__name__)
    model = cfg.build(vocab=vocab, text_dim=8, max_motion_tokens=12, max_text_tokens=6).eval()
    mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    text = TextFeatures(torch.randn(2, 5, 8), mask, torch.randn(2, 8))
    tokens = torch.randint(0, 16, (2, 6))
    with torch.no_grad():
        logits = model(tokens, text)
        if logits.shape != (2, 7, vocab.output_size):
            raise AssertionError(f"logits shape {tuple(logits.shape)} != (2, 7, 17)")
        changed = tokens.clone()
        changed[:, 3] = (changed[:, 3] + 1) % 16
        leak = float((model(changed, text)[:, :4] - logits[:, :4]).abs().max())
        if leak > 1e-6:
            raise AssertionError(f"changing token 3 changes logits at positions <= 3 by {leak:.1e}")
        step_logits, state = model.start(text)
        steps = [step_logits]
        for t in range(tokens.shape[1]):
            step_logits, state = model.step(tokens[:, t], state)
            steps.append(step_logits)
        error = float((torch.stack(steps, 1) - logits).abs().max())
    if error > 1e-4:
        raise AssertionError(f"cached decoding differs from recomputation by {error:.1e}")
    counts = model.param_counts()
    return f"{counts['total']:,} params, no leak, cache error {error:.1e}"


def check_text_encoder(cls: type) -> str:
    """Tiny preset on two captions (one empty): shapes, mask, pooled vector."""
    import torch

    cfg = from_preset(cls, "tiny", cls.__name__)
    try:
        encoder = cfg.build(captions=["a person walks forward", "someone jumps"])
    except MotionkitError as exc:
        if not getattr(cfg, "path", "set") or "pip install" in str(exc):
            return f"skipped: {exc}"
        raise
    with torch.no_grad():
        out = encoder(["a person walks forward", ""])
    batch, length, dim = out.features.shape
    if (batch, dim) != (2, encoder.dim) or out.mask.shape != (2, length):
        raise AssertionError(f"features {tuple(out.features.shape)}, mask {tuple(out.mask.shape)}")
    if not bool(out.mask.any(1).all()) or out.pooled.shape != (2, encoder.dim):
        raise AssertionError("every caption needs a valid token and a pooled vector")
    return f"{encoder.dim}-d features, {length} tokens, trainable {encoder.trainable}"


def check_presets(cls: type) -> str:
    """Instantiate every preset of a config class."""
    base = from_preset(cls, None, cls.__name__)
    for name in presets(cls):
        apply_preset(base, name, cls.__name__)
    return f"{len(presets(cls))} preset(s) valid"


#: Runtime check per registry kind; kinds not listed get ``check_presets``.
CHECKS: dict[str, Callable[[type], str]] = {
    "quantizers": check_quantizer,
    "backbones": check_backbone,
    "text_encoders": check_text_encoder,
}


@click.command("check")
@click.argument("kind", required=False)
def check(kind: str | None) -> None:
    """Build every registered component's tiny preset and run its contract check.

    Exits with status 1 when any component fails; a broken plugin never stops the others.
    """
    registries = (
        [get_registry(kind)] if kind else [r for r in REGISTRIES.values() if r.kind != "commands"]
    )
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("kind", "name", "source", "result", "ms"):
        table.add_column(column, style="bold" if column == "name" else None)
    if any(r.kind in CHECKS for r in registries):
        import torch  # noqa: F401 - imported once up front so the timings show the checks alone
    failures = 0
    for registry in registries:
        for name in registry.names():
            ok, message, ms = _run_one(registry, name)
            failures += not ok
            source = ", ".join(e.source for e in registry.entries() if e.name == name)
            style = "green" if ok else "red"
            table.add_row(registry.kind, name, source, f"[{style}]{escape(message)}[/{style}]", ms)
    console.out.print(table)
    if failures:
        raise MotionkitError(f"{failures} component(s) failed their check (see the table above)")


def _run_one(registry: Registry, name: str) -> tuple[bool, str, str]:
    start = time.perf_counter()
    try:
        cls: Any = registry.get(name)
        message = CHECKS.get(registry.kind, check_presets)(cls)
        ok = True
    except MotionkitError as exc:
        ok, message = False, str(exc)
    except Exception as exc:
        ok, message = False, f"{type(exc).__name__}: {exc}"
    return ok, message, f"{(time.perf_counter() - start) * 1000:.0f}"
