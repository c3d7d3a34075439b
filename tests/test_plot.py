"""``motionkit plot`` (training curves of a run folder) and ``environment.json`` (where a run came
from), on a real tiny pipeline run trained through the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from motionkit.cli import cli
from motionkit.config.run import prepare_run_dir, resolve_run_config
from motionkit.errors import MotionkitWarning
from motionkit.plots import Panel, Series, _log_x, curve_panels, read_metrics
from motionkit.provenance import ENVIRONMENT_FILENAME, read_environment, record_environment


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def ok(*args: str):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from motionkit.data.synthetic import generate_corpus

    root = tmp_path_factory.mktemp("plot-corpus") / "corpus"
    generate_corpus(root, 24, seed=1)
    return root


@pytest.fixture(scope="module")
def pipeline(corpus, tmp_path_factory) -> Path:
    """A tiny pipeline run: a tokenizer, then a generator, in one run folder."""
    run = tmp_path_factory.mktemp("plot-runs") / "pipe"
    ok(
        "train", "--preset", "tiny", "--quantizer", "fsq", "--levels", "5,5,5",
        "--data", str(corpus), "--max-steps", "10", "--eval-every", "5", "--log-every", "2",
        "--out", str(run),
    )  # fmt: skip
    return run


# ---------------------------------------------------------------- motionkit plot


def test_plot_pipeline_run_writes_a_png_with_both_stages(pipeline):
    result = ok("plot", str(pipeline))
    out = pipeline / "curves.png"
    assert f"wrote {out}" in result.stdout and "tokenizer" in result.stdout
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert 800 <= width <= 4000 and 300 <= height <= 3000
    titles = [p.title for p in curve_panels(pipeline)]
    assert titles[0] == "tokenizer train: loss"
    assert {"tokenizer val: l1", "tokenizer val: mpjpe_mm", "tokenizer val: usage"} <= set(titles)
    assert {"generator train: loss", "generator val: ce", "generator val: lu"} <= set(titles)
    assert not [t for t in titles if "tokens_seen" in t or "flops" in t or "steps_done" in t]
    assert not [t for t in titles if t.endswith((": lr", ": grad_norm"))]
    assert not list(pipeline.glob(".curves.png.*"))  # the atomic write left no temporary


def test_train_panels_hold_the_loss_terms(pipeline):
    from motionkit.plots import curve_panels

    panels = {p.title: p for p in curve_panels(pipeline)}
    tok = [s.name for s in panels["tokenizer train: loss"].series]
    assert tok[0] == "loss" and {"recon", "joints"} <= set(tok)
    assert "batch_perplexity" not in tok and "lr" not in tok
    # the generator's ce equals its loss (no label smoothing): one line, not two
    assert [s.name for s in panels["generator train: loss"].series] == ["loss"]
    assert panels["generator val: lu"].series[0].steps == (0, 5, 10)
    assert panels["tokenizer train: loss"].series[0].steps == (2, 4, 6, 8, 10)


def test_plot_one_stage_to_a_chosen_file(pipeline, tmp_path):
    out = tmp_path / "new" / "folder" / "tok.png"
    result = ok("plot", str(pipeline / "tokenizer"), "--out", str(out))
    assert f"wrote {out}" in result.stdout
    with Image.open(out) as image:
        assert image.format == "PNG"
    titles = [p.title for p in curve_panels(pipeline / "tokenizer")]
    assert titles and all(t.startswith("tokenizer ") for t in titles)
    ok("plot", str(pipeline / "generator"), "--out", str(tmp_path / "gen.svg"))
    assert (tmp_path / "gen.svg").read_text().lstrip().startswith("<?xml")


def test_a_line_cut_short_by_a_kill_is_skipped(pipeline, tmp_path):
    run = tmp_path / "killed"
    run.mkdir()
    shutil.copy(pipeline / "generator" / "config.json", run / "config.json")
    lines = (pipeline / "generator" / "metrics.jsonl").read_text().splitlines()
    # the last line was being written when the process died: no newline, half a record
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n" + lines[-1][:25])
    records, skipped = read_metrics(run / "metrics.jsonl")
    assert len(records) == len(lines) and skipped == 1
    result = ok("plot", str(run))
    assert "skipped 1 unreadable line" in result.stderr
    assert (run / "curves.png").is_file()
    assert "generator val: lu" in [p.title for p in curve_panels(run)]


def test_a_step_logged_twice_keeps_its_last_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = [
        {"step": 0, "split": "val", "l1": 1.0},
        {"step": 10, "split": "val", "l1": 0.9},
        {"step": 10, "split": "val", "l1": 0.7},  # logged again after a resume
        {"step": 5, "split": "train", "loss": 2.0},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from motionkit.plots import curve_panels

    panels = {p.title: p for p in curve_panels(run)}
    assert panels["run val: l1"].series[0].values == (1.0, 0.7)  # no config.json: folder name
    assert panels["run train: loss"].series[0].steps == (5,)


def test_steps_over_two_decades_get_a_log_axis():
    def panel(steps):
        return Panel("s", "val", "m", (Series("m", tuple(steps), tuple(1.0 for _ in steps)),))

    assert _log_x(panel([0, 10, 20, 40])) is None
    assert _log_x(panel([0, 10, 100, 1000, 10000])) == 10.0


def _make(tmp_path: Path, name: str) -> Path:
    """A folder that cannot be plotted, by name."""
    path = tmp_path / name
    if name == "missing":
        return path
    if name == "a-file":
        path.write_text("not a run")
        return path
    path.mkdir()
    if name == "no-metrics":
        (path / "config.json").write_text('{"stage": "tokenizer"}')
    elif name == "pipeline-not-started":
        (path / "config.json").write_text('{"stage": "pipeline"}')
    elif name == "only-garbage":
        (path / "config.json").write_text('{"stage": "generator"}')
        (path / "metrics.jsonl").write_text('{"step": 0, "spl\nnot json\n[1, 2]\n')
    return path


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("missing", ["no run folder at", "--out folder of 'motionkit train'"]),
        ("a-file", ["is a file, not a run folder"]),
        ("empty", ["is not a run folder", "config.json", "metrics.jsonl"]),
        ("no-metrics", ["has no metrics.jsonl", "has not logged a step yet"]),
        ("pipeline-not-started", ["pipeline run whose stages have not started"]),
        ("only-garbage", ["holds no complete metric line (3 line(s) could not be read)"]),
    ],
)
def test_runs_that_cannot_be_plotted_fail_with_one_line(tmp_path, name, fragments):
    run = _make(tmp_path, name)
    result = invoke("plot", str(run))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("out", "fragment"),
    [
        ("folder", "is a folder; give a file name such as"),
        ("a-file/curves.png", "a-file is a file, not a folder"),
        ("curves.txt", "end --out in .png, .svg or .pdf"),
    ],
)
def test_outputs_that_cannot_be_written_fail_with_one_line(tmp_path, out, fragment):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 1.0}\n')
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("x")
    result = invoke("plot", str(run), "--out", str(tmp_path / out))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], lines
    assert not (run / "curves.png").exists()


def test_plot_modules_import_nothing_heavy():
    code = textwrap.dedent(
        """
        import sys
        import motionkit, motionkit.plots, motionkit.provenance, motionkit.cli.plot_cmd
        heavy = [m for m in ("matplotlib", "torch", "numpy") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- environment.json


def _check_record(record: dict) -> None:
    assert set(record["versions"]) == {
        "motionkit", "torch", "x-transformers", "vector-quantize-pytorch", "numpy"
    }  # fmt: skip
    assert record["versions"]["motionkit"] and record["versions"]["torch"]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", record["python"])
    assert record["machine"] and record["platform"] and record["cpus"] >= 1
    assert record["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert record["cuda"] is None or isinstance(record["cuda"], list)
    stamp = time.strptime(record["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(stamp) - time.mktime(time.gmtime())) < 3600
    assert isinstance(record["command"], list) and record["pid"] > 0


def test_every_folder_of_a_run_records_its_environment(pipeline):
    for folder in (pipeline, pipeline / "tokenizer", pipeline / "generator"):
        records = read_environment(folder)
        assert len(records) == 1, folder
        _check_record(records[0])
        assert records[0]["cuda"] is not None  # torch was loaded: CUDA was asked
    assert json.loads((pipeline / ENVIRONMENT_FILENAME).read_text())["runs"] == read_environment(
        pipeline
    )


def test_resume_appends_its_environment_and_keeps_the_original(pipeline, tmp_path, monkeypatch):
    run = tmp_path / "resumed"
    shutil.copytree(pipeline, run)
    original = read_environment(run)
    argv = ["motionkit", "train", "--out", str(run), "--resume", "--max-steps", "12"]
    monkeypatch.setattr(sys, "argv", argv)
    ok(*argv[1:])
    top = read_environment(run)
    assert len(top) == 2 and top[0] == original[0]
    _check_record(top[1])
    assert top[1]["command"] == argv
    assert len(read_environment(run / "generator")) == 2  # the stage that trained again
    assert len(read_environment(run / "tokenizer")) == 1  # finished: not touched
    assert [r["step"] for r in read_metrics(run / "generator" / "metrics.jsonl")[0]][-1] == 12


def test_prepare_run_dir_records_only_when_asked_and_appends(tmp_path):
    config = resolve_run_config("tokenizer", preset="tiny")
    prepare_run_dir(tmp_path / "dry", config)
    assert not (tmp_path / "dry" / ENVIRONMENT_FILENAME).exists()
    ok("train", "--stage", "tokenizer", "--preset", "tiny", "--dry-run", "--out",
       str(tmp_path / "cli-dry"))  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "cli-dry").iterdir()) == ["config.json"]
    prepare_run_dir(tmp_path / "run", config, environment=True)
    prepare_run_dir(tmp_path / "run", config, environment=True)
    records = read_environment(tmp_path / "run")
    assert len(records) == 2
    for record in records:
        _check_record(record)


def test_git_lookup_fails_soft(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repository"))
    assert read_environment(record_environment(tmp_path).parent)[-1]["git_commit"] is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no git at all
    assert read_environment(record_environment(tmp_path).parent)[-1]["git_commit"] is None
    assert len(read_environment(tmp_path)) == 2


def test_an_unreadable_environment_file_is_kept_aside(tmp_path):
    (tmp_path / ENVIRONMENT_FILENAME).write_text('{"runs": [')
    with pytest.warns(MotionkitWarning, match="could not be read"):
        record_environment(tmp_path)
    assert (tmp_path / (ENVIRONMENT_FILENAME + ".unreadable")).read_text() == '{"runs": ['
    assert len(read_environment(tmp_path)) == 1


def test_combination_figure_draws_every_cell(tmp_path):
    from motionkit.plots import PlotError, combination_figure, write_figure

    def score(mean: float) -> dict:
        return {"mean": mean, "ci95": 0.01}

    cells = [
        {"tokenizer": t, "backbone": b, "codes": 512, "levels": 1, "mpjpe_mm": 50.0 + i,
         "usage": 0.5, "model": {"top3": score(0.6 + 0.05 * j), "fid": score(0.3)},
         "real": {"top3": score(0.95)}}
        for i, t in enumerate(("fsq", "vq")) for j, b in enumerate(("prefix-lm", "decoder-only"))
    ]  # fmt: skip
    figure = combination_figure(cells, title="t")
    top3, fid, recon = figure.axes
    assert len(top3.patches) == len(fid.patches) == 4 and len(recon.patches) == 2
    assert [p.get_height() for p in recon.patches] == [50.0, 51.0]
    assert [t.get_text() for t in top3.get_xticklabels()] == ["fsq (512x1)", "vq (512x1)"]
    out = write_figure(figure, tmp_path / "c.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(PlotError, match="no cells"):
        combination_figure([])


def test_a_model_card_is_written_from_damaged_run_files(tmp_path):
    """The card reads what it can: files that are not what they should be give a shorter card,
    never an error after a finished training."""
    from motionkit.card import write_model_card

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("[1, 2]")  # not an object
    (run / ENVIRONMENT_FILENAME).write_text('{"runs": "nope"}')
    (run / "metrics.jsonl").write_text('{"step": 3, "split": "val", "lu": 0.5}\nnot json\n')
    card = write_model_card(run).read_text()
    assert card.startswith("# Model card: run") and "**unknown** run" in card
    assert "Provenance" not in card
    (run / "config.json").write_text('{"stage": "tokenizer", "dataset": {"root": "data/x"}}')
    card = write_model_card(run).read_text()
    assert "data/x (split train)" in card and "Final validation (step 3): lu 0.5" in card
    assert read_environment(run) == []
