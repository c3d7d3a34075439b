"""``motionkit bench``, packaged run configs and ``motionkit list configs``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from motionkit.cli import cli


def test_speed_suite_appends_a_record_with_the_environment(tmp_path):
    results = tmp_path / "results"
    args = ["bench", "--suite", "speed", "--work", str(tmp_path / "w"), "--results", str(results)]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["suite"] == "speed" and record["result"]["ratio"] > 1
    assert record["environment"]["versions"]["torch"].startswith("2.")
    lines = (results / "bench.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["seed"] == 0
    assert "KV cache" in (results / "bench-speed.md").read_text()
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and len((results / "bench.jsonl").read_text().splitlines()) == 2


def test_unknown_suite_is_one_line():
    result = CliRunner().invoke(cli, ["bench", "--suite", "sped"])
    assert result.exit_code != 0 and "did you mean 'speed'" in result.output


def test_packaged_configs_are_listed_and_resolve():
    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "configs"])
    assert listed.exit_code == 0 and "demo-evaluator" in listed.stdout
    dry = runner.invoke(cli, ["train", "--config", "demo", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    config = json.loads(dry.stdout)
    assert config["stage"] == "pipeline" and config["backbone"]["layers"] == 4
    assert config["quantizer"]["levels"] == [8, 6, 5] and config["dataset"]["limit"] == 0
    evaluator = runner.invoke(cli, ["train", "--config", "demo-evaluator", "--dry-run"])
    assert json.loads(evaluator.stdout)["stage"] == "evaluator"
    typo = runner.invoke(cli, ["train", "--config", "dmeo", "--dry-run"])
    assert typo.exit_code != 0 and "did you mean 'demo'" in typo.output


def test_scaling_suite_on_a_tiny_grid(tmp_path, monkeypatch):
    from motionkit import bench
    from motionkit.data.synthetic import generate_corpus

    corpus = tmp_path / "corpus"
    generate_corpus(corpus, 48, seed=2)
    monkeypatch.setattr(bench, "_corpus", lambda work, seed: corpus)
    monkeypatch.setitem(bench.SCALING_GRID, "models", (
        {"name": "a", "dim": 16, "layers": 1, "heads": 2},
        {"name": "b", "dim": 32, "layers": 2, "heads": 2},
    ))  # fmt: skip
    monkeypatch.setitem(bench.SCALING_GRID, "budgets", (2e8, 6e8))
    monkeypatch.setitem(bench.SCALING_GRID, "tokenizer_steps", 6)
    monkeypatch.setitem(bench.SCALING_GRID, "batch_size", 8)
    record = bench.run_suite("scaling", tmp_path / "w", tmp_path / "results")
    result = record["result"]
    assert len(result["runs"]) == 4 and "loss" in result["fit"]["laws"]
    assert "Fitted on the envelope" in (tmp_path / "results" / "bench-scaling.md").read_text()


@pytest.mark.slow
def test_combinations_suite_trains_every_cell_and_resumes(tmp_path, monkeypatch):
    from motionkit import bench
    from motionkit.data.synthetic import generate_corpus

    corpus = tmp_path / "corpus"
    generate_corpus(corpus, 60, seed=2)
    monkeypatch.setattr(bench, "COMBO_EXTRA", ("--max-steps", "3", "--batch-size", "8",
                                               "--eval-every", "3"))  # fmt: skip
    # no batch size given: the suite fits R-precision batches to the small test split
    monkeypatch.setattr(bench, "COMBO_EVAL", {"replications": 2, "mm_texts": 2,
                                              "mm_repeats": 2, "diversity_pairs": 3})  # fmt: skip
    record = bench.run_suite("combinations", tmp_path / "w", tmp_path / "results", data=corpus)
    cells = record["result"]["cells"]
    assert {(c["tokenizer"], c["backbone"]) for c in cells} == {
        (t, b) for t in ("fsq", "vq", "rvq") for b in bench.COMBO_BACKBONES
    }
    params = [c["params"] for c in cells if c["tokenizer"] == "fsq"]
    assert max(params) < 1.5 * min(params)  # matched sizes
    assert all(c["levels"] == (2 if c["tokenizer"] == "rvq" else 1) for c in cells)
    assert all(0 <= c["model"]["top3"]["mean"] <= 1 and c["sample_tokens_per_s"] > 0 for c in cells)
    table = (tmp_path / "results" / f"bench-combinations-{corpus.name}.md").read_text()
    assert table.count("| fsq") == 3 and "Real motion" in table
    assert "R-precision over batches of" in table and "batches of 32" not in table
    figure = tmp_path / "results" / f"bench-combinations-{corpus.name}.png"
    assert f"![combination table]({figure.name})" in table
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    # finished cells are kept: a second run trains nothing and gives the same table
    stamp = (tmp_path / "w" / f"combinations-{corpus.name}" / "cells").stat().st_mtime_ns
    again = bench.run_suite("combinations", tmp_path / "w", tmp_path / "results", data=corpus)
    assert again["result"]["cells"] == cells
    assert (tmp_path / "w" / f"combinations-{corpus.name}" / "cells").stat().st_mtime_ns == stamp
    assert "Scored by the suite's own evaluator" in table
    # another evaluator (here a copy of the suite's own) re-scores every cell, training nothing
    import shutil

    external = tmp_path / "external-evaluator"
    shutil.copytree(tmp_path / "w" / f"combinations-{corpus.name}" / "evaluator", external)
    third = bench.run_suite("combinations", tmp_path / "w", tmp_path / "results", data=corpus,
                            evaluator=external)  # fmt: skip
    assert all(c["evaluator"] == str(external.resolve()) for c in third["result"]["cells"])
    assert f"Scored by motionkit retrieval evaluator {external}" in third["result"]["markdown"]
    assert [c["model"] for c in third["result"]["cells"]] == [c["model"] for c in cells]


def test_max_test_items_belongs_to_the_combinations_suite(tmp_path):
    from motionkit import bench
    from motionkit.errors import MotionkitError

    with pytest.raises(MotionkitError, match="--max-test-items is taken by the combinations"):
        bench.run_suite("scaling", tmp_path / "w", tmp_path / "r", max_items=64)
    with pytest.raises(MotionkitError, match="--evaluator is taken by the combinations"):
        bench.run_suite("default", tmp_path / "w", tmp_path / "r", evaluator=tmp_path)
    assert not (tmp_path / "w").exists()
    assert bench.COMBO_MAX_ITEMS >= 32  # at least one standard R-precision batch
