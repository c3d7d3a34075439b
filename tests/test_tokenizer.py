"""Motion VAE, the tokenizer training stage, tokenizer metrics and token export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from motionkit.cli import cli
from motionkit.config.fields import from_preset
from motionkit.config.run import RunConfig
from motionkit.eval import tokenizer_metrics as tm
from motionkit.quantizers.fsq import FSQConfig
from motionkit.registry import quantizers
from motionkit.tokenizer.config import MotionVAEConfig
from motionkit.tokenizer.run import load_tokenizer
from motionkit.tokenizer.vae import MotionVAE, resnet1d


def tiny_vae(feature_dim: int = 263) -> MotionVAE:
    torch.manual_seed(0)
    cfg = from_preset(MotionVAEConfig, "tiny", "model")
    return MotionVAE(cfg, FSQConfig(levels=(5, 5, 5)).build(dim=cfg.dim), feature_dim)


def test_vae_shapes_and_token_rate():
    vae = tiny_vae().eval()
    x = torch.randn(2, 32, 263)
    out = vae(x)
    assert out.reconstruction.shape == (2, 32, 263)
    assert out.quantizer.indices.shape == (2, 8)
    tokens = vae.encode(torch.randn(1, 30, 263))  # padded to 32 frames
    assert tokens.shape == (1, 8) and tokens.dtype == torch.int64
    assert vae.decode(tokens).shape == (1, 32, 263)
    torch.testing.assert_close(vae.decode(out.quantizer.indices), out.reconstruction)
    with pytest.raises(ValueError, match=r"\(B, T, 263\)"):
        vae(torch.randn(2, 32, 251))
    with pytest.raises(ValueError, match="multiple of 4"):
        vae(torch.randn(2, 30, 263))


def test_reference_architecture():
    cfg = MotionVAEConfig()
    assert (cfg.width, cfg.dim, cfg.frames_per_token) == (512, 512, 4)
    dilations = [block.conv.dilation[0] for block in resnet1d(8, 3, 3, "relu")]
    assert dilations == [9, 3, 1]
    vae = MotionVAE(cfg, FSQConfig().build(dim=512), 263)
    assert vae.quantizer.codebook_size == 15360
    convs = [m for m in vae.encoder.modules() if isinstance(m, torch.nn.Conv1d)]
    strided = [c for c in convs if c.stride[0] == 2]
    assert len(strided) == 2 and all(c.kernel_size[0] == 4 for c in strided)
    assert convs[0].in_channels == 263 and convs[-1].out_channels == 512


def test_numpy_metrics_on_known_cases():
    target = np.zeros((5, 22, 3))
    prediction = target.copy()
    prediction[:, 1:, 0] += 0.01  # every non-root joint 1 cm off
    assert tm.mpjpe_mm(prediction, target) == pytest.approx(10.0 * 21 / 22)
    prediction[:, :, 1] += 5.0  # a global shift is removed by root-relative MPJPE
    assert tm.mpjpe_mm(prediction, target) == pytest.approx(10.0 * 21 / 22)
    codes = np.array([0, 1, 2, 3] * 5)
    assert tm.codebook_usage(codes, 8) == 0.5
    assert tm.perplexity(codes, 8) == pytest.approx(4.0)
    assert tm.perplexity(np.zeros(10, int), 8) == pytest.approx(1.0)
    two = np.stack([codes, np.zeros_like(codes)], axis=-1)
    assert tm.codebook_usage(two, 8, num_codebooks=2) == pytest.approx((0.5 + 0.125) / 2)
    assert tm.l1(np.ones(3), np.zeros(3)) == 1.0
    with pytest.raises(ValueError, match="outside"):
        tm.codebook_usage(np.array([9]), 8)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("synthetic") / "corpus"
    generate_corpus(root, 40, seed=1)
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "tok"
    args = ["train", "--stage", "tokenizer", "--preset", "tiny", "--data", str(corpus)]
    args += ["--max-steps", "60", "--eval-every", "30", "--log-every", "5", "--out", str(run_dir)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run_dir


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_training_writes_a_complete_run_and_the_loss_goes_down(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "model.safetensors", "mean.npy", "std.npy", "metrics.jsonl"} <= names
    rows = read_metrics(trained)
    losses = [r["loss"] for r in rows if r["split"] == "train"]
    assert len(losses) == 12 and all(np.isfinite(losses))
    val = [r for r in rows if r["split"] == "val"]
    assert [r["step"] for r in val] == [0, 30, 60]
    # measured on this corpus: l1 0.50 -> 0.36, MPJPE 83 -> 69 mm after 60 steps
    assert val[-1]["l1"] < 0.8 * val[0]["l1"]
    assert val[-1]["mpjpe_mm"] < 0.9 * val[0]["mpjpe_mm"]
    assert set(val[-1]) >= {"l1", "mpjpe_mm", "usage", "perplexity"}
    assert 0 < val[-1]["usage"] <= 1 and val[-1]["mpjpe_mm"] > 0
    config = RunConfig.load(trained)
    assert config["train"].max_steps == 60 and config.names["quantizer"] == "fsq"


def test_loaded_tokenizer_reproduces_the_validation(trained, corpus):
    from motionkit.data.humanml3d import read_folder
    from motionkit.tokenizer.evaluate import evaluate, normalised_clips

    model, mean, std, _ = load_tokenizer(trained)
    val = read_folder(corpus, "val")
    metrics = evaluate(model, normalised_clips(val, mean, std), mean, std, torch.device("cpu"))
    last = [r for r in read_metrics(trained) if r["split"] == "val"][-1]
    for key in ("l1", "mpjpe_mm", "usage", "perplexity"):
        assert metrics[key] == pytest.approx(last[key], rel=1e-4)


def test_resume_continues_from_the_last_save(trained, tmp_path):
    import shutil

    run_dir = tmp_path / "resumed"
    shutil.copytree(trained, run_dir)
    args = ["train", "--resume", "--out", str(run_dir), "--max-steps", "70"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    steps = [r["step"] for r in read_metrics(run_dir) if r["split"] == "train"]
    assert steps[-3:] == [60, 65, 70]
    assert RunConfig.load(run_dir)["train"].max_steps == 70


def test_eval_tokenizer_and_tokenize(trained, corpus, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["eval-tokenizer", str(trained), "--data", str(corpus)])
    assert result.exit_code == 0, result.output
    report = json.loads((trained / "eval-test.json").read_text())
    assert report["split"] == "test" and report["codebook_size"] == 125
    assert report["mpjpe_mm"] > 0 and 0 < report["usage"] <= 1

    out = tmp_path / "tokens"
    result = runner.invoke(
        cli, ["tokenize", str(trained), "--data", str(corpus), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    tokens = np.load(out / "tokens-all.npz", allow_pickle=False)
    table = json.loads((out / "unigram-all.json").read_text())
    ids = (corpus / "all.txt").read_text().split()
    assert sorted(tokens.files) == sorted(ids)
    for clip_id in ids[:5]:
        frames = np.load(corpus / "new_joint_vecs" / f"{clip_id}.npy").shape[0]
        assert tokens[clip_id].shape == (-(-frames // 4),)
        assert tokens[clip_id].dtype == np.int64
    total = sum(tokens[k].size for k in tokens.files)
    assert table["sequences"] == len(ids) == table["end_count"]
    assert sum(table["counts"][0]) == total
    assert sum(table["frequencies"][0]) + table["end_frequency"][0] == pytest.approx(1.0)


def test_training_into_an_existing_run_is_refused(trained):
    before = (trained / "metrics.jsonl").read_bytes()
    args = ["train", "--stage", "tokenizer", "--preset", "tiny", "--out", str(trained)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "already holds a training run; pass --resume" in result.stderr
    assert (trained / "metrics.jsonl").read_bytes() == before


def test_eval_tokenizer_without_weights_is_one_line(tmp_path, corpus):
    result = CliRunner().invoke(cli, ["eval-tokenizer", str(tmp_path), "--data", str(corpus)])
    assert result.exit_code == 1
    assert (
        result.stderr.strip().startswith("Error: ") and "has no model.safetensors" in result.stderr
    )


@pytest.mark.parametrize("name", quantizers.names())
def test_every_registered_quantizer_trains_in_the_vae(name, corpus, tmp_path):
    run_dir = tmp_path / name
    args = ["train", "--stage", "tokenizer", "--preset", "tiny", "--quantizer", name]
    args += ["--data", str(corpus)]
    args += ["--max-steps", "4", "--eval-every", "4", "--out", str(run_dir)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    model, *_ = load_tokenizer(run_dir)
    tokens = model.encode(torch.zeros(1, 16, 263))
    assert tokens.shape[:2] == (1, 4) and int(tokens.max()) < model.quantizer.codebook_size


@pytest.mark.slow
def test_training_without_data_uses_the_synthetic_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--stage", "tokenizer", "--preset", "tiny", "--max-steps", "3"]
    args += ["--eval-every", "3", "--out", "run"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    corpus = tmp_path / "data" / "synthetic-n64-s0"
    assert json.loads((corpus / "synthetic.json").read_text())["num"] == 64
    assert RunConfig.load(tmp_path / "run").names["dataset"] == "synthetic"
    # a second run reuses the corpus instead of generating it again
    stamp = (corpus / "Mean.npy").stat().st_mtime_ns
    args[-1] = "run2"
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    assert (corpus / "Mean.npy").stat().st_mtime_ns == stamp


def test_batched_encoding_equals_one_clip_at_a_time(trained, corpus):
    """The export encodes clips of one length together; the tokens are those of each clip alone."""
    from motionkit.data.humanml3d import read_folder
    from motionkit.tokenizer.export import encode_dataset
    from motionkit.tokenizer.run import load_tokenizer

    model, mean, std, _ = load_tokenizer(trained)
    dataset = read_folder(corpus, "all", min_len=1, max_len=10**9)
    lengths = [len(c.features) for c in dataset.clips]
    assert len(set(lengths)) < len(lengths)  # some clips share a length: batches of more than one
    batched = encode_dataset(model, mean, std, dataset, batch_size=64)
    alone = encode_dataset(model, mean, std, dataset, batch_size=1)
    assert list(batched) == [c.id for c in dataset.clips]
    for key, codes in alone.items():
        np.testing.assert_array_equal(batched[key], codes)


def test_batched_evaluation_equals_one_clip_at_a_time(trained, corpus):
    """Validation runs clips of one cut length together; the metrics are those of each alone."""
    from motionkit.data.humanml3d import read_folder
    from motionkit.tokenizer.evaluate import evaluate, normalised_clips
    from motionkit.tokenizer.run import load_tokenizer

    model, mean, std, _ = load_tokenizer(trained)
    clips = normalised_clips(read_folder(corpus, "all", min_len=1, max_len=10**9), mean, std)
    cut = [len(c) - len(c) % model.frames_per_token for c in clips]
    assert len(set(cut)) < len(cut)  # some clips share a cut length: batches of more than one
    batched = evaluate(model, clips, mean, std, torch.device("cpu"))
    alone = evaluate(model, clips, mean, std, torch.device("cpu"), batch_size=1)
    assert batched["usage"] == alone["usage"] and batched["perplexity"] == alone["perplexity"]
    for key in ("l1", "mpjpe_mm"):
        assert batched[key] == pytest.approx(alone[key], rel=1e-6)


def test_equal_length_batches_cover_every_item_once():
    from motionkit.batching import equal_length_batches

    lengths = [5, 3, 5, 5, 3, 7, 5]
    batches = list(equal_length_batches(lengths, batch_size=2))
    assert batches == [(3, [1, 4]), (5, [0, 2]), (5, [3, 6]), (7, [5])]
    assert sorted(i for _, rows in batches for i in rows) == list(range(len(lengths)))
    assert list(equal_length_batches([], 4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(equal_length_batches(lengths, 0))
