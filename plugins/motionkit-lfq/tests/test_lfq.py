"""motionkit-lfq: discovery through its entry point, the LFQ config and the built quantizer.

Latents ``(2, 8, 16)`` -> quantized ``(2, 8, 16)``, indices ``(2, 8)`` in ``[0, 64)``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
import torch
from motionkit_lfq import LFQConfig

from motionkit.config.fields import from_preset
from motionkit.registry import quantizers


@pytest.fixture
def installed() -> None:
    try:
        metadata.distribution("motionkit-lfq")
    except metadata.PackageNotFoundError:
        pytest.skip("motionkit-lfq is not installed: pip install -e plugins/motionkit-lfq")


def test_discovered_through_entry_point(installed: None) -> None:
    entry = quantizers.entry("lfq")
    assert entry.source == "motionkit-lfq"
    assert entry.target == "motionkit_lfq:LFQConfig"
    assert quantizers.get("lfq") is LFQConfig


def test_round_trip_in_eval_mode() -> None:
    torch.manual_seed(0)
    q = from_preset(LFQConfig, "tiny", "lfq").build(dim=16).eval()
    z = torch.randn(2, 8, 16)
    out = q(z)
    assert out.quantized.shape == (2, 8, 16)
    assert out.indices.shape == (2, 8) and out.indices.dtype == torch.int64
    assert torch.equal(q.encode(z), out.indices)
    assert torch.allclose(q.decode(out.indices), out.quantized, atol=1e-5)


def test_codebook_size() -> None:
    cfg = LFQConfig(codebook_size=4096)
    assert cfg.bits == 12
    assert cfg.build(dim=32).codebook_size == 4096
    assert LFQConfig().codebook_size == 1024


@pytest.mark.parametrize(("size", "hint"), [(1000, "try 1024"), (3, "try 4"), (0, "try 2")])
def test_non_power_of_two_raises(size: int, hint: str) -> None:
    with pytest.raises(ValueError, match=f"power of two.*{hint}"):
        LFQConfig(codebook_size=size)


def test_import_is_torch_free() -> None:
    code = "import sys, motionkit_lfq; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
