"""The packaged reference configurations: they resolve, say what they leave out, build the
architectures they name, and the CPU one trains."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from motionkit.cli import cli

REFERENCES = ("scamo", "scamo-tiny", "t2m-gpt", "momask-rvq")


def dry_run(name: str, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["train", "--config", name, "--dry-run", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_configs_resolve_and_document_themselves(name):
    from motionkit.configs import packaged_configs

    text = packaged_configs()[name].read_text()
    assert "leaves out" in text
    assert "GPU hours" in text or "no GPU" in text
    config = dry_run(name)
    assert config["stage"] == "pipeline"
    assert CliRunner().invoke(cli, ["list", "configs"]).output.count(name) >= 1


def test_reference_shapes():
    from motionkit.backbones.base import Vocabulary
    from motionkit.registry import create_config

    scamo = dry_run("scamo")
    assert scamo["model"]["width"] == 512 and scamo["model"]["down_t"] == 2
    assert scamo["quantizer"]["levels"] == [8, 8, 8, 6, 5]  # 2^14: 15,360 codes
    assert (scamo["backbone"]["layers"], scamo["backbone"]["dim"]) == (8, 512)
    assert scamo["text_encoder"]["name"] == "t5" and scamo["text_encoder"]["max_tokens"] == 150
    bigger = dry_run("scamo", "--backbone", "prefix-lm:3B", "--quantizer", "fsq:2^16")
    assert bigger["backbone"]["dim"] == 3200 and bigger["quantizer"]["levels"] == [8, 8, 8, 5, 5, 5]
    backbone = create_config("backbones", "prefix-lm:44M")
    params = backbone.estimate_params(Vocabulary(15360), text_dim=2048)["total"]
    assert 40e6 < params < 50e6  # the size its name says
    t2m = dry_run("t2m-gpt")
    assert t2m["quantizer"]["name"] == "vq" and t2m["quantizer"]["codebook_size"] == 512
    assert t2m["backbone"]["name"] == "decoder-only" and t2m["text_encoder"]["name"] == "clip"
    momask = dry_run("momask-rvq")
    assert momask["quantizer"]["num_quantizers"] == 6 and momask["quantizer"]["quantize_dropout"]


@pytest.mark.parametrize("name", ["scamo", "t2m-gpt", "momask-rvq"])
def test_a_reference_that_needs_weights_says_where_to_get_them(name):
    from motionkit.errors import MotionkitError
    from motionkit.registry import create_config

    encoder = dry_run(name)["text_encoder"]
    cfg = create_config("text_encoders", encoder.pop("name"), **encoder)
    with pytest.raises(MotionkitError, match=r"--text-encoder\.path"):
        cfg.build(captions=[], run_dir=None)


def test_scamo_tiny_trains_end_to_end(tmp_path):
    from motionkit.data.synthetic import generate_corpus

    generate_corpus(tmp_path / "c", 24, seed=2)
    result = CliRunner().invoke(
        cli, ["train", "--config", "scamo-tiny", "--data", str(tmp_path / "c"), "--max-steps", "4",
              "--eval-every", "2", "--batch-size", "8", "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for stage in ("tokenizer", "generator"):
        assert (tmp_path / "run" / stage / "model.safetensors").is_file()
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert "A motionkit **pipeline** run" in card and "motionkit generate" in card
    assert "## The tokenizer" in card and "## The generator" in card
    assert "fsq" in card and "prefix-lm" in card and "Final validation (step 4)" in card
    assert "git commit" in card
