"""Contract tests of every registered quantizer (built-ins and installed plugins), plus specifics.

Each quantizer is built from its ``tiny`` preset with latent width 16 and fed ``(4, 32, 16)``
latents: quantized ``(4, 32, 16)``, indices ``(4, 32)`` or ``(4, 32, Q)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pytest
import torch

from motionkit.config.fields import from_preset
from motionkit.errors import ConfigError, PluginLoadError, PluginWarning
from motionkit.quantizers import Quantizer, QuantizerOutput
from motionkit.quantizers.fsq import SCAMO_LEVELS, FSQConfig
from motionkit.quantizers.rvq import RVQConfig
from motionkit.quantizers.vq import VQConfig
from motionkit.registry import quantizers

B, T, D = 4, 32, 16


def load(name: str) -> type:
    """The config class of ``name``; skips the test when its plugin fails to load."""
    try:
        return quantizers.get(name)
    except (PluginLoadError, PluginWarning) as exc:  # the warning is an error under pytest
        pytest.skip(f"plugin for quantizer {name!r} failed to load: {exc}")


def build_tiny(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return from_preset(load(name), "tiny", name).build(dim=D)


@pytest.fixture(params=quantizers.names())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def quantizer(name: str) -> torch.nn.Module:
    return build_tiny(name)


@pytest.fixture
def latents() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(B, T, D)


@pytest.fixture
def float64_default() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


# -- the contract, for every registered name --------------------------------------------------


def test_follows_protocol(quantizer: torch.nn.Module) -> None:
    assert isinstance(quantizer, Quantizer)
    assert quantizer.dim == D


def test_shapes_and_indices(quantizer: torch.nn.Module, latents: torch.Tensor) -> None:
    out = quantizer(latents)
    assert isinstance(out, QuantizerOutput)
    assert out.quantized.shape == (B, T, D)
    expected = (B, T) if quantizer.num_codebooks == 1 else (B, T, quantizer.num_codebooks)
    assert out.indices.shape == expected
    assert out.indices.dtype == torch.int64
    assert int(out.indices.min()) >= 0 and int(out.indices.max()) < quantizer.codebook_size
    assert out.aux_loss.ndim == 0
    assert quantizer.encode(latents).dtype == torch.int64


def test_eval_round_trip(quantizer: torch.nn.Module, latents: torch.Tensor) -> None:
    quantizer.eval()
    indices = quantizer.encode(latents)
    out = quantizer(latents)
    assert torch.equal(indices, out.indices)
    assert torch.allclose(quantizer.decode(indices), out.quantized, atol=1e-5)


def test_gradient_reaches_input(quantizer: torch.nn.Module, latents: torch.Tensor) -> None:
    quantizer.train()
    z = latents.clone().requires_grad_()
    out = quantizer(z)
    (out.quantized.sum() + out.aux_loss).backward()
    assert z.grad is not None
    assert torch.isfinite(z.grad).all()
    assert z.grad.abs().sum() > 0


def test_float32_input_under_float64_default(name: str, float64_default: None) -> None:
    quantizer = build_tiny(name)
    z = torch.randn(B, T, D, dtype=torch.float32)
    for training in (True, False):
        quantizer.train(training)
        out = quantizer(z)
        assert out.quantized.dtype == torch.float32
        assert out.aux_loss.dtype == torch.float32
    decoded = quantizer.decode(out.indices)
    assert torch.allclose(decoded.float(), out.quantized, atol=1e-5)


@pytest.mark.parametrize("shape", [(B, T), (B, T, D + 1), (B, T, D, 1)])
def test_wrong_shape_raises(quantizer: torch.nn.Module, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"\(B, T, {D}\)"):
        quantizer(torch.randn(shape))
    with pytest.raises(ValueError, match=rf"\(B, T, {D}\)"):
        quantizer.encode(torch.randn(shape))


def test_stats(quantizer: torch.nn.Module, latents: torch.Tensor) -> None:
    stats = quantizer(latents).stats
    assert isinstance(stats["perplexity"], float) and isinstance(stats["usage"], float)
    assert 1.0 - 1e-9 <= stats["perplexity"] <= quantizer.codebook_size + 1e-9
    assert 0.0 < stats["usage"] <= 1.0


def test_dim_comes_from_the_model_or_the_config(name: str) -> None:
    cfg = from_preset(load(name), "tiny", name)
    assert cfg.dim is None  # the tiny preset leaves the width to the model
    with pytest.raises(ConfigError, match="needs the latent width"):
        cfg.build()
    fixed = dataclasses.replace(cfg, dim=D)
    assert fixed.build().dim == D
    assert fixed.build(dim=D).dim == D
    with pytest.raises(ConfigError, match="latent width"):
        fixed.build(dim=D + 1)


# -- FSQ ------------------------------------------------------------------------------------


def test_fsq_codebook_size() -> None:
    assert FSQConfig().codebook_size == 8 * 8 * 8 * 6 * 5
    assert FSQConfig(levels=(5, 5, 5)).build(dim=D).codebook_size == 125


def test_fsq_scamo_preset() -> None:
    cfg = from_preset(FSQConfig, "2^14", "fsq")
    assert cfg.levels == (8, 8, 8, 6, 5)
    assert cfg.codebook_size == 15360


def test_scamo_real_sizes() -> None:
    sizes = [FSQConfig(levels=levels).codebook_size for levels in SCAMO_LEVELS.values()]
    assert sizes == [240, 512, 1000, 1920, 4375, 15360, 64000]
    for nominal, levels in SCAMO_LEVELS.items():
        assert FSQConfig.PRESETS[nominal] == {"levels": levels}


def test_fsq_codes_are_distinct(latents: torch.Tensor) -> None:
    q = build_tiny("fsq").eval()
    out = q(latents)
    assert torch.allclose(q.decode(out.indices), out.quantized, atol=1e-5)
    all_codes = q.decode(torch.arange(q.codebook_size).reshape(1, -1))
    assert all_codes.shape == (1, q.codebook_size, D)
    assert torch.unique(all_codes.round(decimals=4), dim=1).shape[1] == q.codebook_size


def test_fsq_needs_dim() -> None:
    with pytest.raises(ConfigError, match="needs the latent width"):
        FSQConfig().build()
    assert FSQConfig(dim=8).build().dim == 8


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (FSQConfig, {"levels": (2, 3)}, "at least 3"),
        (FSQConfig, {"levels": ()}, "must not be empty"),
        (FSQConfig, {"dim": 0}, "dim"),
        (VQConfig, {"codebook_size": 0}, "codebook_size"),
        (VQConfig, {"decay": 1.0}, "decay"),
        (VQConfig, {"codebook_dim": 0}, "codebook_dim"),
        (RVQConfig, {"num_quantizers": 0}, "num_quantizers"),
        (RVQConfig, {"quantize_dropout_cutoff_index": 6}, "cutoff"),
    ],
)
def test_config_validation(cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_decode_rejects_bad_indices() -> None:
    q = build_tiny("fsq")
    with pytest.raises(ValueError, match="indices"):
        q.decode(torch.full((1, 3), q.codebook_size))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        q.decode(torch.zeros(1, 3, 2, dtype=torch.long))


# -- learned codebooks ----------------------------------------------------------------------


def test_vq_training_updates_ema_codebook(latents: torch.Tensor) -> None:
    q = build_tiny("vq").train()
    q(latents)  # first step: k-means initialisation, then an EMA update
    before = q.inner.codebook.clone()
    q(latents + 0.5)
    assert not torch.allclose(q.inner.codebook, before)
    q.eval()
    frozen = q.inner.codebook.clone()
    q(latents + 1.0)
    assert torch.equal(q.inner.codebook, frozen)


def test_rvq_bits_per_token() -> None:
    q = build_tiny("rvq")
    assert q.num_codebooks == 2
    assert math.isclose(q.bits_per_token, 2 * math.log2(32))
