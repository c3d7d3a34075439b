"""Typed configs: parsing, presets, file + flag precedence, qualification, JSON round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from motionkit.config.fields import coerce, parse_text
from motionkit.config.run import RunConfig, prepare_run_dir, resolve_run_config
from motionkit.errors import ConfigError, MotionkitWarning, UnknownComponentError
from motionkit.quantizers.fsq import FSQConfig
from motionkit.train.config import TrainConfig


@pytest.mark.parametrize(
    ("text", "tp", "expected"),
    [
        ("8,8,8,6,5", tuple[int, ...], (8, 8, 8, 6, 5)),
        ("[7, 5,5]", tuple[int, ...], (7, 5, 5)),
        ("3", int, 3),
        ("2e-4", float, 2e-4),
        ("yes", bool, True),
        ("off", bool, False),
        ("none", int | None, None),
        ("12", int | None, 12),
        ("hello", str, "hello"),
    ],
)
def test_parse_text(text, tp, expected):
    assert parse_text(text, tp, "x") == expected


@pytest.mark.parametrize(
    ("text", "tp", "fragment"),
    [
        ("8,x,8", tuple[int, ...], "expected tuple[int, ...] like 8,8,8,6,5"),
        ("three", int, "expected int like 3"),
        ("maybe", bool, "expected bool"),
        ("none", int, "expected int"),
    ],
)
def test_parse_text_errors_say_what_is_expected(text, tp, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_text(text, tp, "x")


def test_coerce_is_strict_about_types():
    assert coerce([8, 8], tuple[int, ...], "x") == (8, 8)
    assert coerce(1, float, "x") == 1.0
    assert isinstance(coerce(1, float, "x"), float)
    with pytest.raises(ConfigError, match="expected int"):
        coerce("3", int, "levels")
    with pytest.raises(ConfigError, match="expected bool"):
        coerce(1, bool, "flag")
    with pytest.raises(ConfigError, match="expected int"):
        coerce(True, int, "n")


def test_levels_flag_sets_fsq_levels():
    cfg = resolve_run_config(choices={"quantizer": "fsq"}, args=["--levels", "8,8,8,6,5"])
    # no stage: the pipeline (tokenizer, then generator) with the default components
    assert cfg.stage == "pipeline"
    assert (cfg.names["backbone"], cfg.names["text_encoder"]) == ("prefix-lm", "learned")
    tok = resolve_run_config("tokenizer", args=["--levels", "8,8,8,6,5"])
    assert tok.stage == "tokenizer" and "backbone" not in tok
    assert cfg.names["quantizer"] == "fsq"
    assert cfg["quantizer"] == FSQConfig(levels=(8, 8, 8, 6, 5))
    assert cfg["quantizer"].codebook_size == 15360


def test_default_quantizer_and_equals_syntax():
    cfg = resolve_run_config(args=["--levels=7,5,5,5,5", "--train.lr=1e-3", "--batch-size", "4"])
    assert cfg.names["quantizer"] == "fsq"
    assert cfg["quantizer"].levels == (7, 5, 5, 5, 5)
    assert cfg["train"].lr == 1e-3
    assert cfg["train"].batch_size == 4


def test_options_follow_the_chosen_component():
    cfg = resolve_run_config(choices={"quantizer": "vq"}, args=["--codebook-size", "512"])
    assert cfg.names["quantizer"] == "vq"
    assert cfg["quantizer"].codebook_size == 512
    with pytest.raises(ConfigError, match="no such option: --levels"):
        resolve_run_config(choices={"quantizer": "vq"}, args=["--levels", "8,8"])


def test_dataset_defaults_to_the_synthetic_corpus():
    cfg = resolve_run_config(args=["--num", "100", "--dataset.seed", "3", "--train.seed", "4"])
    assert cfg.names["dataset"] == "synthetic"
    assert (cfg["dataset"].num, cfg["dataset"].seed, cfg["train"].seed) == (100, 3, 4)
    with pytest.raises(ConfigError, match="--seed is ambiguous"):
        resolve_run_config(args=["--seed", "1"])


def test_shared_field_name_must_be_qualified():
    with pytest.raises(ConfigError) as info:
        resolve_run_config(args=["--dim", "256"])
    text = str(info.value)
    assert "--dim is ambiguous" in text
    assert "--model.dim" in text and "--quantizer.dim" in text
    cfg = resolve_run_config(args=["--quantizer.dim", "256", "--model.dim", "128"])
    assert cfg["quantizer"].dim == 256
    assert cfg["model"].dim == 128


def test_unknown_option_suggests():
    with pytest.raises(ConfigError, match=r"no such option: --levls; did you mean '--levels'"):
        resolve_run_config(args=["--levls", "8,8"])
    with pytest.raises(ConfigError, match="needs a value"):
        resolve_run_config(args=["--levels"])
    with pytest.raises(ConfigError, match="unexpected argument 'oops'"):
        resolve_run_config(args=["oops"])


def test_bool_flags(tmp_path):
    cfg = resolve_run_config(choices={"quantizer": "vq"}, args=["--no-kmeans-init"])
    assert cfg["quantizer"].kmeans_init is False
    cfg = resolve_run_config(
        choices={"quantizer": "vq"}, args=["--no-kmeans-init", "--kmeans-init", "--lr", "0.1"]
    )
    assert cfg["quantizer"].kmeans_init is True
    assert cfg["train"].lr == 0.1


def test_negated_flag_takes_no_value():
    with pytest.raises(ConfigError, match="--no-kmeans-init takes no value"):
        resolve_run_config(choices={"quantizer": "vq"}, args=["--no-kmeans-init=1"])
    with pytest.raises(ConfigError, match="no such option: --no-lr"):
        resolve_run_config(args=["--no-lr"])


def test_invalid_values_are_config_errors():
    with pytest.raises(ConfigError, match=r"train.*lr must be positive"):
        resolve_run_config(args=["--lr", "-1"])
    with pytest.raises(ConfigError, match="quantizer 'fsq': every FSQ level must be at least 3"):
        resolve_run_config(args=["--levels", "8,1"])
    with pytest.raises(ConfigError, match="expected one of 'relu'"):
        resolve_run_config(args=["--activation", "tanh"])


def test_unknown_component_suggests():
    with pytest.raises(UnknownComponentError, match="did you mean 'fsq'"):
        resolve_run_config(choices={"quantizer": "fqs"})


def test_presets_global_and_per_component():
    tiny = resolve_run_config(preset="tiny")
    assert tiny["train"] == dataclasses.replace(TrainConfig(), **TrainConfig.PRESETS["tiny"])
    assert tiny["model"].width == 32
    assert tiny["quantizer"] == dataclasses.replace(FSQConfig(), **FSQConfig.PRESETS["tiny"])
    big = resolve_run_config(choices={"quantizer": "fsq:2^16"})
    assert big["quantizer"].levels == (8, 8, 8, 5, 5, 5)
    assert big["train"] == TrainConfig()
    explicit = resolve_run_config(preset="tiny", args=["--max-steps", "7"])
    assert explicit["train"].max_steps == 7
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        resolve_run_config(choices={"quantizer": "fsq:huge"})


def test_toml_gives_defaults_and_flags_win(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        'preset = "tiny"\n[quantizer]\nname = "fsq"\nlevels = [8, 6, 5]\n'
        "[train]\nlr = 0.001\nmax_steps = 30\n"
    )
    cfg = resolve_run_config(config_file=path, args=["--max-steps", "99"])
    assert cfg["quantizer"].levels == (8, 6, 5)
    assert cfg["train"].lr == 0.001
    assert cfg["train"].max_steps == 99
    assert cfg["train"].batch_size == TrainConfig.PRESETS["tiny"]["batch_size"]


def test_toml_options_for_another_component_are_dropped_with_a_warning(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[quantizer]\nname = "fsq"\nlevels = [8, 6, 5]\n')
    with pytest.warns(MotionkitWarning, match="ignoring"):
        cfg = resolve_run_config(config_file=path, choices={"quantizer": "vq"})
    assert cfg.names["quantizer"] == "vq"
    path.write_text('[quantizer]\nname = "fsq:2^10"\n')
    with pytest.warns(MotionkitWarning, match="preset '2\\^10'"):
        cfg = resolve_run_config(config_file=path, choices={"quantizer": "vq"})
    assert cfg["quantizer"] == resolve_run_config(choices={"quantizer": "vq"})["quantizer"]
    assert resolve_run_config(config_file=path)["quantizer"].levels == (8, 5, 5, 5)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[quantizr]\nname='fsq'\n", "unknown section 'quantizr'; did you mean 'quantizer'"),
        ("[quantizer]\nlevles = [8]\n", "unknown option 'levles'; did you mean 'levels'"),
        ("[quantizer]\nlevels = '8,8'\n", "expected a list"),
        ("[train\nlr = 1\n", "not valid TOML"),
        ("stage = 'nope'\n", "unknown stage 'nope'"),
        ("[dataset]\nname = 'humanml3d'\nnum = 3\n", "unknown option 'num'"),
    ],
)
def test_bad_config_files(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve_run_config(config_file=path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve_run_config(config_file=tmp_path / "nope.toml")


def test_run_config_is_frozen_and_round_trips_through_json(tmp_path):
    cfg = resolve_run_config(
        choices={"quantizer": "rvq:tiny"}, args=["--num-quantizers", "3", "--train.seed", "5"]
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg["train"].seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.sections["train"] = TrainConfig()  # type: ignore[index]
    path = cfg.save(tmp_path)
    data = json.loads(path.read_text())
    assert data["quantizer"]["name"] == "rvq"
    assert data["quantizer"]["num_quantizers"] == 3
    assert data["stage"] == "pipeline"
    reloaded = RunConfig.load(tmp_path)
    assert reloaded == cfg
    assert reloaded["quantizer"] == cfg["quantizer"]
    assert reloaded.to_dict() == cfg.to_dict()
    # a saved config.json is also a valid --config file, and flags still win
    again = resolve_run_config(config_file=path, args=["--train.seed", "6"])
    assert again["train"].seed == 6
    assert again["quantizer"] == cfg["quantizer"]


def test_prepare_run_dir_never_overwrites_a_different_config(tmp_path):
    first = resolve_run_config(args=["--dataset.seed", "1"])
    path = prepare_run_dir(tmp_path / "run", first)
    before = path.read_bytes()
    prepare_run_dir(tmp_path / "run", first)  # the same config again is fine
    second = resolve_run_config(args=["--dataset.seed", "2"])
    with pytest.raises(ConfigError, match="different configuration"):
        prepare_run_dir(tmp_path / "run", second)
    assert path.read_bytes() == before
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["config.json"]
