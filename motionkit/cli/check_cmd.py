"""``motionkit check [KIND]``: build each component's ``tiny`` preset and exercise its contract.

A quick health check of an installation, plugins included: every quantizer is built, run on random
latents and its eval-mode round trip ``decode(encode(z)) == forward(z).quantized`` is verified.
Components of kinds without a runtime check have their presets validated.
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


def check_presets(cls: type) -> str:
    """Instantiate every preset of a config class."""
    base = from_preset(cls, None, cls.__name__)
    for name in presets(cls):
        apply_preset(base, name, cls.__name__)
    return f"{len(presets(cls))} preset(s) valid"


#: Runtime check per registry kind; kinds not listed get ``check_presets``.
CHECKS: dict[str, Callable[[type], str]] = {"quantizers": check_quantizer}


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
