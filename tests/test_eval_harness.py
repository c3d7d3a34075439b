"""Evaluator training (``motionkit evaluator train``) and the protocol run (``motionkit eval``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from motionkit.cli import cli
from motionkit.errors import MotionkitError


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("eval-corpus") / "corpus"
    generate_corpus(root, 120, seed=5)
    return root


@pytest.fixture(scope="module")
def evaluator_run(corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("eval-runs") / "evaluator"
    invoke(
        "evaluator", "train", "--preset", "tiny", "--data", str(corpus), "--limit", "0",
        "--max-steps", "60", "--eval-every", "30", "--batch-size", "32", "--train.lr", "2e-3",
        "--out", str(run),
    )  # fmt: skip
    return run


@pytest.fixture(scope="module")
def generator_run(corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("eval-gen") / "pipe"
    invoke(
        "train", "--preset", "tiny", "--data", str(corpus), "--limit", "0",
        "--max-steps", "20", "--eval-every", "20", "--out", str(run),
    )  # fmt: skip
    return run


def test_evaluator_learns_retrieval_and_reports_real_motion_on_test(evaluator_run):
    rows = [json.loads(x) for x in (evaluator_run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r["split"] == "val"]
    assert val[0]["step"] == 0 and val[-1]["step"] == 60
    # chance level for the first of 32 (or fewer) candidates, learned well above it
    assert val[-1]["top3"] > val[0]["top3"] + 0.3
    test = json.loads((evaluator_run / "retrieval-test.json").read_text())
    assert test["split"] == "test" and test["clips"] > 0 and 0 <= test["top1"] <= test["top3"] <= 1


def test_evaluator_refuses_another_feature_layout(evaluator_run):
    from motionkit.eval.train import load_evaluator

    evaluator = load_evaluator(evaluator_run)
    assert evaluator.feature_dim == 263
    with pytest.raises(MotionkitError, match="263-d"):
        evaluator.embed_motion([np.zeros((40, 251), np.float32)])
    with pytest.raises(MotionkitError, match="NaN"):
        evaluator.embed_motion([np.full((40, 263), np.nan, np.float32)])
    # its own statistics normalise raw features: the embedding does not depend on the caller
    clip = np.random.default_rng(0).normal(size=(48, 263)).astype(np.float32)
    a = evaluator.embed_motion([clip])
    b = evaluator.embed_motion([clip, clip[:40]])[:1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_eval_prints_the_standard_table_and_records_the_protocol(
    generator_run, evaluator_run, corpus, tmp_path
):
    out = tmp_path / "eval.json"
    output = invoke(
        "eval", str(generator_run), "--data", str(corpus), "--evaluator", str(evaluator_run),
        "--replications", "3", "--batch-size", "8", "--mm-texts", "4", "--mm-repeats", "3",
        "--out", str(out),
    )  # fmt: skip
    for row in ("real", "tokenizer", "model", "shuffled"):
        assert row in output
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {"real", "tokenizer", "model", "shuffled"}
    real, shuffled = result["rows"]["real"], result["rows"]["shuffled"]
    assert real["top3"]["n"] == 3
    assert real["top3"]["mean"] > shuffled["top3"]["mean"]
    assert abs(real["fid"]["mean"]) < 1e-3  # real motion against itself
    assert result["settings"]["lengths"] == "gt" and "ground-truth" in result["length_protocol"]
    assert "own mean/std" in result["normalisation"]
    assert result["multimodality"] is not None and result["multimodality"] >= 0
    assert out.with_suffix(".md").read_text().count("|") > 20
    # the same seed gives the same numbers
    again = tmp_path / "again.json"
    invoke(
        "eval", str(generator_run), "--data", str(corpus), "--evaluator", str(evaluator_run),
        "--replications", "3", "--batch-size", "8", "--mm-texts", "0", "--out", str(again),
    )  # fmt: skip
    assert json.loads(again.read_text())["rows"]["model"] == result["rows"]["model"]


def test_eval_on_a_seeded_subset_of_the_test_items(generator_run, evaluator_run, corpus, tmp_path):
    common = ("--data", str(corpus), "--evaluator", str(evaluator_run), "--replications", "2",
              "--batch-size", "4", "--mm-texts", "0")  # fmt: skip
    invoke("eval", str(generator_run), *common, "--out", str(tmp_path / "all.json"))
    available = json.loads((tmp_path / "all.json").read_text())["test_items"]["available"]
    assert available > 8
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        output = invoke("eval", str(generator_run), *common, "--max-items", "8", "--out", str(out))
        assert "8 test items" in output
        runs.append(json.loads(out.read_text()))
    assert runs[0]["test_items"] == {"used": 8, "available": available}
    assert runs[0]["settings"]["max_items"] == 8
    assert runs[0]["rows"] == runs[1]["rows"]  # the subset is fixed by the seed
    assert f"On 8 of the {available} test items" in (tmp_path / "a.md").read_text()
    refused = CliRunner().invoke(cli, ["eval", str(generator_run), *common, "--max-items", "3"])
    assert refused.exit_code != 0 and "--max-items must be 0 (all) or at least" in refused.output


def test_eval_refuses_bad_input(generator_run, evaluator_run, corpus):
    runner = CliRunner()
    wrong = runner.invoke(
        cli,
        ["eval", str(generator_run), "--data", str(corpus), "--evaluator", str(generator_run)],
    )
    assert wrong.exit_code != 0 and "not an evaluator" in wrong.output
    few = runner.invoke(
        cli,
        ["eval", str(generator_run), "--data", str(corpus), "--evaluator", str(evaluator_run),
         "--batch-size", "500"],
    )  # fmt: skip
    assert few.exit_code != 0 and "at least one batch" in few.output
    assert "Traceback" not in wrong.output + few.output


def test_eval_with_the_official_evaluator_layout(generator_run, corpus, tmp_path):
    """Random weights in the official files' layout: the protocol runs and records the tagger."""
    from tests.test_evaluator import write_official

    official = write_official(tmp_path / "official")
    (official / "meta").mkdir()
    for name in ("mean", "std"):
        stat = np.load(corpus / f"{name.capitalize()}.npy")
        np.save(official / "meta" / f"{name}.npy", stat)
    out = tmp_path / "official.json"
    invoke(
        "eval", str(generator_run), "--data", str(corpus), "--evaluator", str(official),
        "--replications", "2", "--batch-size", "8", "--mm-texts", "0", "--out", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert "word/POS" in result["caption_tagger"] or "lexicon" in result["caption_tagger"]
    assert result["rows"]["real"]["fid"]["mean"] == pytest.approx(0.0, abs=1e-3)


def test_tokenizer_row_reconstructs_clips_in_batches_like_one_at_a_time(generator_run, corpus):
    from motionkit.data.humanml3d import read_folder
    from motionkit.eval.harness import _reconstruct
    from motionkit.generator.model import load_generator

    loaded = load_generator(generator_run)
    clips = [c.features for c in read_folder(corpus, "test").clips]
    fpt = int(loaded.tokenizer.frames_per_token)
    cut = [len(c) - len(c) % fpt for c in clips]
    assert len(set(cut)) < len(cut)  # some share a length: real batches
    together = _reconstruct(loaded, clips)
    for clip, got, frames in zip(clips, together, cut, strict=True):
        assert got.shape == (frames, clip.shape[1])
        np.testing.assert_allclose(got, _reconstruct(loaded, [clip])[0], atol=1e-5)
