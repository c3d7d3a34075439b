"""Contract tests of every registered backbone (built-ins and installed plugins), plus specifics.

Each backbone is built from its ``tiny`` preset with ``V = 11`` codes, ``Q = 1`` and ``Q = 2``
codebooks, 12-d text features and at most 10 motion tokens, in eval mode. Its weights are scaled up
so that logits are O(1) and the tolerances below are meaningful. The text batch has captions of
3 different lengths (6, 2 and 4 valid tokens, right-padded with random features).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import torch

from motionkit.backbones.base import Backbone, Vocabulary
from motionkit.backbones.common import (
    NOMINAL_PARAMS,
    REFERENCE_CODEBOOK_SIZE,
    REFERENCE_TEXT_DIM,
    SCAMO_SIZES,
    swiglu_hidden,
)
from motionkit.backbones.decoder_only import DecoderOnlyConfig
from motionkit.backbones.encoder_decoder import EncoderDecoderConfig
from motionkit.backbones.prefix_lm import PrefixLMConfig
from motionkit.config.fields import from_preset
from motionkit.errors import PluginLoadError, PluginWarning
from motionkit.registry import backbones
from motionkit.text.base import TextFeatures

V, TEXT_DIM, MAX_TOKENS, T = 11, 12, 10, 7
LENGTHS = (6, 2, 4)
BUILTIN: dict[str, type] = {
    "prefix-lm": PrefixLMConfig,
    "decoder-only": DecoderOnlyConfig,
    "encoder-decoder": EncoderDecoderConfig,
}


def load(name: str) -> type:
    """The config class of ``name``; skips the test when its plugin fails to load."""
    try:
        return backbones.get(name)
    except (PluginLoadError, PluginWarning) as exc:
        pytest.skip(f"plugin for backbone {name!r} failed to load: {exc}")


def build(name: str, q: int, **overrides: object) -> torch.nn.Module:
    """The tiny backbone, eval mode, with weights scaled so that logits are O(1)."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(from_preset(load(name), "tiny", name), **overrides)
    model = cfg.build(Vocabulary(V, q), TEXT_DIM, max_motion_tokens=MAX_TOKENS).eval()
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 2:  # matrices and tables: unit-variance inputs and outputs
                param.normal_(0.0, param.shape[1] ** -0.5 if param.shape[1] > 1 else 1.0)
    return model


def make_text(lengths: tuple[int, ...] = LENGTHS, seed: int = 1) -> TextFeatures:
    gen = torch.Generator().manual_seed(seed)
    width = max(lengths)
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    features = torch.randn(len(lengths), width, TEXT_DIM, generator=gen)
    return TextFeatures(features, mask, torch.randn(len(lengths), TEXT_DIM, generator=gen))


def make_tokens(batch: int, q: int, steps: int = T, seed: int = 2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, steps) if q == 1 else (batch, steps, q)
    return torch.randint(0, V + 1, shape, generator=gen)


def decode(model: torch.nn.Module, tokens: torch.Tensor, text: TextFeatures) -> torch.Tensor:
    """``start`` then ``step`` over every token: logits ``(B, T + 1, [Q,] V + 1)``."""
    logits, state = model.start(text)
    out = [logits]
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        out.append(logits)
    return torch.stack(out, dim=1)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads; one thread keeps the file fast on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(params=backbones.names())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=[1, 2], ids=["Q1", "Q2"])
def q(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def model(name: str, q: int) -> torch.nn.Module:
    return build(name, q)


def logits_shape(batch: int, positions: int | None, q: int) -> tuple[int, ...]:
    head = (V + 1,) if q == 1 else (q, V + 1)
    return (batch, *(() if positions is None else (positions,)), *head)


# -- the contract, for every registered name ------------------------------------------------


def test_shapes(model: torch.nn.Module, q: int) -> None:
    assert isinstance(model, Backbone)
    assert model.vocab == Vocabulary(V, q)
    assert model.max_motion_tokens == MAX_TOKENS
    text = make_text()
    with torch.no_grad():
        assert model(make_tokens(3, q), text).shape == logits_shape(3, T + 1, q)
        assert model(make_tokens(3, q, steps=0), text).shape == logits_shape(3, 1, q)
    logits, state = model.start(text)
    assert logits.shape == logits_shape(3, None, q)
    logits, state = model.step(make_tokens(3, q, steps=1)[:, 0], state)
    assert logits.shape == logits_shape(3, None, q)


def test_no_causal_leak(model: torch.nn.Module, q: int) -> None:
    """Changing motion token ``k`` leaves ``logits[:, :k + 1]`` (the predictions of tokens
    ``0 .. k``) unchanged and changes ``logits[:, k + 1]``."""
    text, tokens = make_text(), make_tokens(3, q)
    with torch.no_grad():
        base = model(tokens, text)
        for k in range(T):
            changed = tokens.clone()
            changed[:, k] = (changed[:, k] + 1) % (V + 2)
            out = model(changed, text)
            assert (out[:, : k + 1] - base[:, : k + 1]).abs().max() <= 1e-6, k
            assert (out[:, k + 1] - base[:, k + 1]).abs().max() > 1e-3, k


def test_cache_equals_full_recompute(model: torch.nn.Module, q: int) -> None:
    """``start`` + ``step`` give ``forward``'s logits, texts of different lengths included."""
    text, tokens = make_text(), make_tokens(3, q)
    with torch.no_grad():
        full = model(tokens, text)
    assert (decode(model, tokens, text) - full).abs().max() <= 1e-4


def test_rows_are_independent(model: torch.nn.Module, q: int) -> None:
    """A row alone (its text trimmed to its length) = the same row in the mixed batch."""
    text, tokens = make_text(), make_tokens(3, q)
    with torch.no_grad():
        batch = model(tokens, text)
    cached = decode(model, tokens, text)
    for row, length in enumerate(LENGTHS):
        alone_text = TextFeatures(
            text.features[row : row + 1, :length],
            text.mask[row : row + 1, :length],
            text.pooled[row : row + 1],
        )
        with torch.no_grad():
            alone = model(tokens[row : row + 1], alone_text)
        alone_cached = decode(model, tokens[row : row + 1], alone_text)
        assert (alone[0] - batch[row]).abs().max() <= 1e-5, row
        assert (alone_cached[0] - cached[row]).abs().max() <= 1e-5, row


def test_padded_text_does_not_matter(model: torch.nn.Module, q: int) -> None:
    text, tokens = make_text(), make_tokens(3, q)
    noisy = TextFeatures(
        torch.where(text.mask[..., None], text.features, 100 * torch.randn_like(text.features)),
        text.mask,
        text.pooled,
    )
    with torch.no_grad():
        assert (model(tokens, text) - model(tokens, noisy)).abs().max() <= 1e-6
    assert (decode(model, tokens, text) - decode(model, tokens, noisy)).abs().max() <= 1e-6


def test_select_drops_rows(model: torch.nn.Module, q: int) -> None:
    """Decoding a batch, keeping rows (2, 0) after 3 tokens and going on = decoding those rows."""
    text, tokens = make_text(), make_tokens(3, q)
    rows = torch.tensor([2, 0])
    _, state = model.start(text)
    for t in range(3):
        _, state = model.step(tokens[:, t], state)
    state = model.select(state, rows)
    reference = decode(model, tokens[rows], text.index(rows))
    for t in range(3, T):
        logits, state = model.step(tokens[rows, t], state)
        assert logits.shape[0] == 2
        assert (logits - reference[:, t + 1]).abs().max() <= 1e-5, t


def test_a_state_can_be_stepped_twice(model: torch.nn.Module, q: int) -> None:
    """Branching: stepping an older state again does not disturb the states stepped from it."""
    text, tokens, other = make_text(), make_tokens(3, q), make_tokens(3, q, seed=5)
    _, state = model.start(text)
    _, state = model.step(tokens[:, 0], state)
    first, first_state = model.step(tokens[:, 1], state)
    second, second_state = model.step(other[:, 1], state)
    with torch.no_grad():
        branch_a = model(tokens[:, :3], text)
        branch_b = model(torch.stack([tokens[:, 0], other[:, 1], tokens[:, 2]], dim=1), text)
    assert (first - branch_a[:, 2]).abs().max() <= 1e-4
    assert (second - branch_b[:, 2]).abs().max() <= 1e-4
    assert (model.step(tokens[:, 2], first_state)[0] - branch_a[:, 3]).abs().max() <= 1e-4
    assert (model.step(tokens[:, 2], second_state)[0] - branch_b[:, 3]).abs().max() <= 1e-4


def test_step_beyond_the_limit_raises(model: torch.nn.Module, q: int) -> None:
    tokens = make_tokens(3, q, steps=MAX_TOKENS)
    with torch.no_grad():
        assert model(tokens, make_text()).shape[1] == MAX_TOKENS + 1
    _, state = model.start(make_text())
    for t in range(MAX_TOKENS):
        _, state = model.step(tokens[:, t], state)
    with pytest.raises(ValueError, match="max_motion_tokens"):
        model.step(tokens[:, 0], state)
    with pytest.raises(ValueError, match="max_motion_tokens"):
        model(make_tokens(3, q, steps=MAX_TOKENS + 1), make_text())


def test_bad_tokens_raise(model: torch.nn.Module, q: int) -> None:
    text = make_text()
    wrong_shape = make_tokens(3, 1 if q > 1 else 2)
    with pytest.raises(ValueError, match="shape"):
        model(wrong_shape, text)
    out_of_range = make_tokens(3, q)
    out_of_range[0, 0] = V + 2
    with pytest.raises(ValueError, match="must lie in"):
        model(out_of_range, text)
    with pytest.raises(ValueError, match="batch size"):
        model(make_tokens(2, q), text)


def test_gradients_reach_every_parameter(model: torch.nn.Module, q: int) -> None:
    model.train()
    logits = model(make_tokens(3, q), make_text())
    logits.logsumexp(dim=-1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_vocabulary_sizes(model: torch.nn.Module, q: int) -> None:
    counts = model.param_counts()
    assert counts["vocab"] + counts["non_vocab"] == counts["total"]
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    if hasattr(model, "tokens"):  # the built-ins: one table of Q * (V + 2) rows, Q heads
        assert model.tokens.embedding.num_embeddings == q * (V + 2)
        assert model.tokens.head.out_features == q * (V + 1)


# -- built-in specifics -------------------------------------------------------------------------


@pytest.mark.parametrize("builtin", sorted(BUILTIN))
def test_flash_path_gives_the_same_logits(builtin: str) -> None:
    text, tokens = make_text(), make_tokens(3, 1)
    plain, flash = build(builtin, 1), build(builtin, 1, flash=True)
    flash.load_state_dict(plain.state_dict())
    with torch.no_grad():
        reference = plain(tokens, text)
        assert (flash(tokens, text) - reference).abs().max() <= 1e-5
    assert (decode(flash, tokens, text) - reference).abs().max() <= 1e-4


def test_prefix_lm_text_is_bidirectional() -> None:
    """Text position 0 sees the last text token; every valid text token reaches the motion
    logits; padding is covered by ``test_padded_text_does_not_matter``."""
    model, text, tokens = build("prefix-lm", 1), make_text(), make_tokens(3, 1)
    hiddens: list[torch.Tensor] = []
    hook = model.layers.register_forward_hook(lambda _m, _i, out: hiddens.append(out))
    with torch.no_grad():
        base = model(tokens, text)
        for row, length in enumerate(LENGTHS):
            for j in range(length):
                changed = TextFeatures(text.features.clone(), text.mask, text.pooled)
                changed.features[row, j] += 1.0
                out = model(tokens, changed)
                assert (out[row] - base[row]).abs().amax(dim=-1).min() > 1e-4, (row, j)
                others = [r for r in range(3) if r != row]
                assert torch.equal(out[others], base[others])
    hook.remove()
    # row 0 has no padding: its text position 0 is sequence position 0; j = 5 is its last token
    first, last_changed = hiddens[0], hiddens[1 + LENGTHS[0] - 1]
    assert (first[0, 0] - last_changed[0, 0]).abs().max() > 1e-4


def test_prefix_lm_is_llama_shaped() -> None:
    model = build("prefix-lm", 1)
    biases = [n for n, p in model.named_parameters() if n.endswith("bias")]
    assert biases == ["text_proj.bias"]
    head_width = 32 // 2  # tiny: dim 32, 2 heads; rotary turns the whole head
    assert model.layers.rotary_pos_emb.inv_freq.numel() * 2 == head_width
    cfg = PrefixLMConfig()
    assert (cfg.layers, cfg.heads, cfg.dim, cfg.hidden) == (8, 8, 512, 1536)


def test_swiglu_widths_of_the_scamo_sizes() -> None:
    widths = {d: swiglu_hidden(d) for _, _, d in SCAMO_SIZES.values()}
    assert widths == {512: 1536, 768: 2048, 1024: 2816, 1280: 3584, 1536: 4096, 3200: 8704}


def test_44m_prefix_lm_builds_to_its_estimate() -> None:
    cfg = from_preset(PrefixLMConfig, "44M", "prefix-lm")
    vocab = Vocabulary(REFERENCE_CODEBOOK_SIZE)
    model = cfg.build(vocab, REFERENCE_TEXT_DIM)
    assert model.param_counts() == cfg.estimate_params(vocab, REFERENCE_TEXT_DIM)
    first_ff = next(
        m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.in_features == 1536
    )
    assert first_ff.out_features == 512


@pytest.mark.parametrize("builtin", sorted(BUILTIN))
@pytest.mark.parametrize("q", [1, 3])
def test_tiny_estimate_is_exact(builtin: str, q: int) -> None:
    cfg = from_preset(BUILTIN[builtin], "tiny", builtin)
    extra = {"max_motion_tokens": MAX_TOKENS} if builtin == "decoder-only" else {}
    estimate = cfg.estimate_params(Vocabulary(V, q), TEXT_DIM, **extra)
    assert build(builtin, q).param_counts() == estimate


@pytest.mark.parametrize("builtin", sorted(BUILTIN))
@pytest.mark.parametrize("size", sorted(SCAMO_SIZES))
def test_size_presets_match_their_names(builtin: str, size: str) -> None:
    """With the 2^14 FSQ vocabulary (15360 codes) and 2048-d text features (ScaMo's setting)."""
    cfg = from_preset(BUILTIN[builtin], size, builtin)
    total = cfg.estimate_params(Vocabulary(REFERENCE_CODEBOOK_SIZE), REFERENCE_TEXT_DIM)["total"]
    assert abs(total / NOMINAL_PARAMS[size] - 1) < 0.1, (total, size)


def test_paper_params() -> None:
    cfg = from_preset(PrefixLMConfig, "44M", "prefix-lm")
    units = cfg.paper_params(1024)
    assert units["non_vocab"] == 24 * 8 * 512**2 + 2 * 8 * 201 * 512
    assert units["vocab"] == 2 * 1024 * 512
    assert units["total"] == units["non_vocab"] + units["vocab"]
    # C = 3 (Nnv + Nv) D equals 6 N D with N = 12 L d^2 + L n_ctx d + V d (REFERENCE §3)
    assert 3 * units["total"] == 6 * (12 * 8 * 512**2 + 8 * 201 * 512 + 1024 * 512)
    assert cfg.paper_params(1024, n_ctx=1)["non_vocab"] == 24 * 8 * 512**2 + 2 * 8 * 512


@pytest.mark.parametrize(
    ("builtin", "fields", "message"),
    [
        ("prefix-lm", {"dim": 30, "heads": 4}, "divisible"),
        ("prefix-lm", {"layers": 0}, "layers"),
        ("decoder-only", {"dropout": 1.0}, "dropout"),
        ("encoder-decoder", {"encoder_layers": 0}, "encoder_layers"),
    ],
)
def test_invalid_configs_raise(builtin: str, fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BUILTIN[builtin](**fields)


@pytest.mark.parametrize("builtin", ["prefix-lm", "encoder-decoder"])
def test_text_without_valid_tokens_raises(builtin: str) -> None:
    model, text = build(builtin, 1), make_text()
    text.mask[1] = False
    with pytest.raises(ValueError, match="at least one valid token"):
        model(make_tokens(3, 1), text)
    with pytest.raises(ValueError, match="max_text_tokens"):
        model(make_tokens(2, 1), make_text((80, 2)))


def test_configs_and_registry_import_no_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        from motionkit.registry import backbones
        import motionkit.backbones
        for name in ("prefix-lm", "decoder-only", "encoder-decoder"):
            cfg = backbones.get(name)()
            cfg.estimate_params(motionkit.backbones.Vocabulary(512))
        heavy = [m for m in ("torch", "x_transformers", "einops") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    env = {**os.environ, "MOTIONKIT_DISABLE_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
