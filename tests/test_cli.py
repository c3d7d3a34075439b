"""The command line through click's test runner, plus the lazy-import guarantee."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from motionkit import __version__
from motionkit.cli import cli
from motionkit.config.run import RunConfig

from .conftest import FAKE_QUANTIZER


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_and_version(run):
    result = run("--help")
    assert result.exit_code == 0
    for name in ("check", "list", "plugins", "train"):
        assert name in result.stdout
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout
    assert run().exit_code == 0  # no command prints the help


def test_unknown_command(run):
    assert_one_line_error(run("trian"), 2, "no such command 'trian'", "did you mean 'train'")


def test_list_all_and_one_kind(run):
    result = run("list")
    assert result.exit_code == 0
    assert "quantizers" in result.stdout and "fsq" in result.stdout
    result = run("list", "quantizers")
    assert result.exit_code == 0
    for name in ("fsq", "vq", "rvq"):
        assert name in result.stdout
    assert "motionkit" in result.stdout
    assert_one_line_error(run("list", "quantizerz"), 1, "did you mean 'quantizers'")


def test_list_options_shows_fields_defaults_help_presets(run):
    result = run("list", "quantizers", "--options", "fsq")
    assert result.exit_code == 0
    out = result.stdout
    assert "--levels" in out and "8,8,8,6,5" in out and "tuple[int, ...]" in out
    assert "fsq:tiny" in out and "fsq:2^14" in out
    assert_one_line_error(run("list", "--options", "fqs"), 1, "did you mean 'fsq'")


def test_list_shows_a_plugin_with_its_distribution(run, fake_plugin):
    fake_plugin(
        "fake-quant",
        {"motionkit.quantizers": {"fake": "fake_cli_mod:FakeConfig"}},
        {"fake_cli_mod": FAKE_QUANTIZER},
    )
    result = run("list", "quantizers")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if line.startswith("fake"))
    assert "fake-quant 1.0" in row
    assert "fake_cli_mod" not in sys.modules
    result = run("list", "quantizers", "--options", "fake")
    assert "--size" in result.stdout and "number of codes" in result.stdout


@pytest.mark.filterwarnings("default::motionkit.errors.PluginWarning")
def test_broken_plugin_never_breaks_other_commands(run, fake_plugin):
    fake_plugin(
        "broken-plugin",
        {"motionkit.quantizers": {"broken": "broken_cli_mod:Config"}},
        {"broken_cli_mod": "raise RuntimeError('boom at import')\n"},
    )
    assert run("list").exit_code == 0
    assert run("train", "--levels", "8,8,8", "--dry-run").exit_code == 0
    result = run("train", "--quantizer", "broken", "--dry-run")
    assert result.exit_code == 1
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("Warning: plugin broken-plugin 1.0 failed")
    assert "boom at import" in warning
    assert error.startswith("Error: ")
    result = run("check", "quantizers")
    assert result.exit_code == 1
    assert "boom at import" in " ".join(result.stdout.split())  # the table wraps long cells
    assert result.stdout.count("codebook") >= 3  # fsq, vq and rvq still checked


def test_plugins_command(run, fake_plugin, monkeypatch):
    fake_plugin(
        "fake-quant",
        {"motionkit.quantizers": {"fake": "fake_plug_mod:FakeConfig"}},
        {"fake_plug_mod": FAKE_QUANTIZER},
        summary="Fake quantizers",
    )
    result = run("plugins")
    assert result.exit_code == 0
    assert "fake-quant" in result.stdout and "quantizer fake" in result.stdout
    result = run("plugins", "--check")
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout
    monkeypatch.setenv("MOTIONKIT_DISABLE_PLUGINS", "1")
    result = run("plugins")
    assert "disabled" in result.stderr


def test_plugin_command_is_lazy_and_runs(run, fake_plugin):
    fake_plugin(
        "hello-plugin",
        {"motionkit.commands": {"hello": "hello_cmd_mod:hello"}},
        {
            "hello_cmd_mod": textwrap.dedent(
                """
                import click

                @click.command()
                @click.option("--name", default="world")
                def hello(name):
                    click.echo(f"hello {name}")
                """
            )
        },
        summary="Says hello",
    )
    result = run("--help")
    assert "hello" in result.stdout and "Says hello" in result.stdout
    assert "hello_cmd_mod" not in sys.modules
    result = run("hello", "--name", "motion")
    assert result.exit_code == 0
    assert result.stdout.strip() == "hello motion"


def test_train_dry_run_prints_and_saves_config(run, tmp_path):
    out = tmp_path / "run"
    result = run(
        "train", "--quantizer", "fsq", "--levels", "8,8,8,6,5", "--dry-run", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["quantizer"] == {"name": "fsq", "levels": [8, 8, 8, 6, 5], "dim": None}
    saved = RunConfig.load(out)
    assert saved["quantizer"].levels == (8, 8, 8, 6, 5)
    assert json.loads((out / "config.json").read_text()) == printed


def test_train_config_file_and_flags(run, tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[quantizer]\nname = "vq"\ncodebook_size = 256\n[train]\nlr = 0.01\n')
    result = run("train", "--config", str(path), "--lr", "0.5", "--dry-run")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["quantizer"]["name"] == "vq"
    assert printed["quantizer"]["codebook_size"] == 256
    assert printed["train"]["lr"] == 0.5


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--levls", "8,8"], 2, "did you mean '--levels'"),
        (["--dim", "8"], 2, "--quantizer.dim"),
        (["--levels", "8,x"], 2, "expected tuple[int, ...]"),
        (["--quantizer", "fqs"], 1, "did you mean 'fsq'"),
        (["--config", "missing.toml"], 2, "not found"),
        (["--stage", "nope"], 2, "Invalid value for '--stage'"),
    ],
)
def test_train_bad_input_is_one_line(run, args, code, fragment):
    assert_one_line_error(run("train", *args, "--dry-run"), code, fragment)


def test_resume_needs_an_existing_run(run, tmp_path):
    result = run("train", "--resume", "--out", str(tmp_path / "nothing"))
    assert_one_line_error(result, 1, "--resume needs --out pointing at a run")
    assert not (tmp_path / "nothing").exists()


def test_check_quantizers(run):
    result = run("check", "quantizers")
    assert result.exit_code == 0, result.output
    for name in ("fsq", "vq", "rvq"):
        assert name in result.stdout
    assert "round-trip error" in result.stdout


HEAVY = ("torch", "x_transformers", "vector_quantize_pytorch", "einops")


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--options", "fsq"], ["plugins"]])
def test_light_commands_import_no_heavy_library(args):
    code = textwrap.dedent(
        f"""
        import sys
        from motionkit.cli import cli
        try:
            cli.main({args!r}, prog_name="motionkit")
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print("HEAVY", heavy, file=sys.stderr)
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "motionkit", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_every_module_imports_first_in_a_fresh_interpreter():
    """No import cycles: each module of the package imports on its own, in any order."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import motionkit
        names = sorted(m.name for m in pkgutil.walk_packages(motionkit.__path__, "motionkit."))
        failures = []
        for name in names:
            if name == "motionkit.__main__":
                continue
            for loaded in [m for m in sys.modules if m.startswith("motionkit")]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except Exception as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print(len(names), "modules")
        assert not failures, failures
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
