"""The standard evaluator: official key layout, padding rules, caption processing, safe loading.

Official files are not available here: the tests write random weights in the official key layout
(typed out below from the published ``networks/modules.py``, not derived from motionkit's modules)
as a ``finest.tar`` with ``torch.save`` and a small GloVe vocabulary with ``pickle.dump``.
"""

from __future__ import annotations

import builtins
import os
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from motionkit.data.captions import tag as lexicon_tag
from motionkit.errors import MotionkitError
from motionkit.eval.evaluator import (
    EvaluatorNetworks,
    OfficialEvaluator,
    PlainDataUnpickler,
    convert_official,
    load_evaluator,
    pad_caption,
    safe_pickle,
    tag_caption,
    tokens_from_line,
    words,
)
from motionkit.eval.evaluator.networks import EvaluatorDims

STATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "stats"
SAMPLE_TEXT = Path(__file__).resolve().parents[2] / "shared/data/humanml3d_sample/texts/000000.txt"

OFFICIAL = dict(
    word=300, pos=15, text_h=512, coemb=512, mov_h=512, mov_lat=512, mot_h=1024
)  # evaluator options of the release
TINY = dict(word=8, pos=15, text_h=16, coemb=12, mov_h=16, mov_lat=16, mot_h=24)

VOCAB = [
    "sos", "eos", "unk", "a", "the", "person", "man", "walk", "walks", "forward", "slowly", "and",
    "then", "turn", "turns", "left", "right", "arm", "hand", "leg", "foot", "kick", "jump", "run",
    "sit", "stand", "up", "down", "back", "circle", "wave", "raise", "his", "her", "their",
    "with", "to", "in", "on", "around", "quickly", "happy", "sad", "chair", "ball", "floor",
    "stair", "clockwise", "twice", "stop",
]  # fmt: skip
assert len(VOCAB) == 50


def official_state(feature_dim: int, dims: dict[str, int], seed: int = 0) -> dict:
    """A ``finest.tar`` payload: the official key names and shapes, random values."""
    gen = torch.Generator().manual_seed(seed)

    def t(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * 0.2

    def gru(inp: int, h: int) -> dict[str, torch.Tensor]:
        out = {}
        for sfx in ("", "_reverse"):
            out |= {
                f"gru.weight_ih_l0{sfx}": t(3 * h, inp),
                f"gru.weight_hh_l0{sfx}": t(3 * h, h),
                f"gru.bias_ih_l0{sfx}": t(3 * h),
                f"gru.bias_hh_l0{sfx}": t(3 * h),
            }
        return out

    def head(h: int, out: int) -> dict[str, torch.Tensor]:
        return {
            "output_net.0.weight": t(h, 2 * h),
            "output_net.0.bias": t(h),
            "output_net.1.weight": 1 + t(h),
            "output_net.1.bias": t(h),
            "output_net.3.weight": t(out, h),
            "output_net.3.bias": t(out),
        }

    d = dims
    movement = {
        "main.0.weight": t(d["mov_h"], feature_dim - 4, 4) * 0.3,
        "main.0.bias": t(d["mov_h"]),
        "main.3.weight": t(d["mov_lat"], d["mov_h"], 4) * 0.3,
        "main.3.bias": t(d["mov_lat"]),
        "out_net.weight": t(d["mov_lat"], d["mov_lat"]),
        "out_net.bias": t(d["mov_lat"]),
    }
    text = {
        "pos_emb.weight": t(d["word"], d["pos"]),
        "pos_emb.bias": t(d["word"]),
        "input_emb.weight": t(d["text_h"], d["word"]),
        "input_emb.bias": t(d["text_h"]),
        **gru(d["text_h"], d["text_h"]),
        **head(d["text_h"], d["coemb"]),
        "hidden": t(2, 1, d["text_h"]),
    }
    motion = {
        "input_emb.weight": t(d["mot_h"], d["mov_lat"]),
        "input_emb.bias": t(d["mot_h"]),
        **gru(d["mot_h"], d["mot_h"]),
        **head(d["mot_h"], d["coemb"]),
        "hidden": t(2, 1, d["mot_h"]),
    }
    adam = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": t(4), "exp_avg_sq": t(4).abs()}},
        "param_groups": [
            {
                "lr": 1e-4,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0,
                "amsgrad": False,
                "foreach": None,
                "params": [0],
            }
        ],
    }
    return {
        "text_encoder": OrderedDict(text),
        "motion_encoder": OrderedDict(motion),
        "movement_encoder": OrderedDict(movement),
        "opt_text_encoder": adam,
        "opt_motion_encoder": adam,
        "epoch": 7,
        "iter": 1234,
    }


def write_glove(folder: Path, dim: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = rng.permutation(len(VOCAB) + 3)  # rows are not in word order; 3 rows unused
    np.save(folder / "our_vab_data.npy", rng.standard_normal((len(VOCAB) + 3, dim)).astype("f4"))
    with open(folder / "our_vab_words.pkl", "wb") as f:
        pickle.dump(list(VOCAB), f)
    with open(folder / "our_vab_idx.pkl", "wb") as f:
        pickle.dump({w: int(rows[i]) for i, w in enumerate(VOCAB)}, f)


def write_official(root: Path, feature_dim: int = 263, dims: dict | None = None) -> Path:
    """``root/glove/*`` and ``root/t2m/text_mot_match/model/finest.tar``; returns ``root/t2m``."""
    dims = dims or TINY
    ckpt = root / "t2m" / "text_mot_match" / "model" / "finest.tar"
    ckpt.parent.mkdir(parents=True)
    torch.save(official_state(feature_dim, dims), ckpt)
    write_glove(root / "glove", dims["word"])
    return root / "t2m"


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_official(tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="module")
def evaluator(official: Path) -> OfficialEvaluator:
    return load_evaluator(official)


def one_line_error(exc_info: pytest.ExceptionInfo) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message
    return message


def toks(text: str) -> list[str]:
    return text.split()


CAPTIONS = [
    toks("a/DET person/NOUN walk/VERB forward/ADV slowly/ADV"),
    toks("the/DET man/NOUN jump/VERB up/ADP and/CCONJ down/ADP twice/ADV then/ADV sit/VERB"),
    ["wave/VERB"],
]


def random_motion(batch: int, frames: int, dim: int = 263, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, frames, dim)).astype(np.float32)


# --- networks and the official layout ----------------------------------------------------------


def test_official_dims_load_strictly(tmp_path: Path) -> None:
    folder = write_official(tmp_path, 263, OFFICIAL)
    state = official_state(263, OFFICIAL)
    ev = load_evaluator(folder)
    expected = {f"{m}.{k}" for m in ("movement_encoder", "text_encoder", "motion_encoder")
                for k in state[m]}  # fmt: skip
    got = ev.networks.state_dict()
    assert set(got) == expected
    for key, value in got.items():
        module, _, name = key.partition(".")
        assert torch.equal(value, state[module][name]), key
    assert ev.dims == EvaluatorDims(feature_dim=263)  # the release's widths
    assert ev.epoch == 7 and ev.dataset == "humanml3d" and ev.feature_dim == 263
    text = ev.embed_captions(CAPTIONS[:2])
    motion = ev.embed_motion(random_motion(2, 64), [64, 40])
    assert text.shape == motion.shape == (2, 512) and text.dtype == torch.float32


def test_kit_width_and_dims_are_read_from_the_weights(tmp_path: Path) -> None:
    ev = load_evaluator(write_official(tmp_path, 251))
    assert ev.feature_dim == 251 and ev.dataset == "kit"
    assert ev.dims.dim_motion_hidden == TINY["mot_h"] and ev.dims.dim_word == TINY["word"]
    assert ev.embed_motion(random_motion(3, 60, 251), [60, 24, 33]).shape == (3, TINY["coemb"])


def test_embeddings_are_deterministic(evaluator: OfficialEvaluator) -> None:
    assert not evaluator.networks.training
    evaluator.networks.train()  # stays in eval mode: dropout never applies
    assert not evaluator.networks.training
    x = random_motion(3, 100)
    a, b = evaluator.embed_motion(x, [100, 57, 80]), evaluator.embed_motion(x, [100, 57, 80])
    assert torch.equal(a, b) and a.shape == (3, TINY["coemb"])
    assert torch.equal(evaluator.embed_captions(CAPTIONS), evaluator.embed_captions(CAPTIONS))


def test_caption_embedding_ignores_batch_and_padding(evaluator: OfficialEvaluator) -> None:
    alone = evaluator.embed_captions([CAPTIONS[0]])
    batch = evaluator.encode_captions([CAPTIONS[1], CAPTIONS[0], CAPTIONS[2]])
    together = evaluator.embed_text(batch.word_embs, batch.pos_ohot, batch.lengths)
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)
    garbage_words, garbage_pos = batch.word_embs.copy(), batch.pos_ohot.copy()
    for row, length in enumerate(batch.lengths):
        garbage_words[row, length:] = 1e3
        garbage_pos[row, length:] = 7.0
    garbled = evaluator.embed_text(garbage_words, garbage_pos, batch.lengths)
    torch.testing.assert_close(garbled, together, atol=1e-5, rtol=1e-5)
    # the published computation: rows sorted by caption length, packed sorted
    order = np.argsort(batch.lengths)[::-1].copy()
    enc = evaluator.networks.text_encoder
    with torch.no_grad():
        w, p = torch.from_numpy(batch.word_embs[order]), torch.from_numpy(batch.pos_ohot[order])
        packed = pack_padded_sequence(
            enc.input_emb(w + enc.pos_emb(p)), batch.lengths[order].tolist(), batch_first=True
        )
        _, last = enc.gru(packed, enc.hidden.repeat(1, len(order), 1))
        reference = enc.output_net(torch.cat([last[0], last[1]], dim=-1))[np.argsort(order)]
    torch.testing.assert_close(together, reference, atol=1e-5, rtol=1e-5)


def test_motion_embedding_uses_only_the_first_length_frames(
    evaluator: OfficialEvaluator,
) -> None:
    x = random_motion(1, 90, seed=1)
    alone = evaluator.embed_motion(x, [90])
    # longer padding, garbage after the length, and a batch with other (longer) motions
    padded = np.concatenate([x, 50 * random_motion(1, 150, seed=2)], axis=1)
    padded[0, 100:120] = np.nan
    others = random_motion(2, 240, seed=3)
    batch = np.concatenate([others, padded], axis=0)
    together = evaluator.embed_motion(batch, [240, 203, 90])
    torch.testing.assert_close(together[2:], alone, atol=1e-5, rtol=1e-5)
    longer = evaluator.embed_motion(padded, [99])  # now 9 frames of the garbage count
    assert not torch.allclose(longer, alone)


def official_reference(net: EvaluatorNetworks, motions: np.ndarray, lengths: list[int]):
    """The published wrapper's computation: pad to 196 zeros, sort by length, pack sorted."""
    x = np.zeros((len(lengths), 196, motions.shape[-1]), np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = motions[i, :n]
    order = np.argsort(lengths)[::-1].copy()
    xs, lens = torch.from_numpy(x[order]), torch.tensor(lengths)[order]
    mov = net.movement_encoder
    movements = mov.out_net(mov.main(xs[..., :-4].permute(0, 2, 1)).permute(0, 2, 1))
    enc = net.motion_encoder
    emb = pack_padded_sequence(enc.input_emb(movements), (lens // 4).tolist(), batch_first=True)
    _, last = enc.gru(emb, enc.hidden.repeat(1, len(lengths), 1))
    out = enc.output_net(torch.cat([last[0], last[1]], dim=-1))
    return out[np.argsort(order)]


def test_motion_embedding_equals_the_official_padded_computation(
    evaluator: OfficialEvaluator,
) -> None:
    lengths = [196, 150, 61, 40, 195]  # 196: no padding at all; 61 and 195: not multiples of 4
    x = random_motion(len(lengths), 196, seed=4)
    with torch.no_grad():
        reference = official_reference(evaluator.networks, x, lengths)
    ours = evaluator.embed_motion(x, lengths)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    # beside a motion longer than 196 frames, the batch is padded further: same rows
    longer = np.concatenate([np.pad(x, ((0, 0), (0, 44), (0, 0))), random_motion(1, 240)])
    mixed = evaluator.embed_motion(longer, [*lengths, 240])
    torch.testing.assert_close(mixed[:-1], reference, atol=1e-5, rtol=1e-5)


# --- captions -----------------------------------------------------------------------------------


def test_caption_padding_and_length_rule() -> None:
    line = (
        "A person walks forward slowly and waves.#a/DET person/NOUN walk/VERB forward/ADV "
        "slowly/ADV and/CCONJ wave/VERB#0.0#0.0"
    )
    tokens = tokens_from_line(line)
    assert tokens == toks("a/DET person/NOUN walk/VERB forward/ADV slowly/ADV and/CCONJ wave/VERB")
    padded, length = pad_caption(tokens)
    assert len(padded) == 22 and length == 9 == padded.index("eos/OTHER") + 1
    assert padded[0] == "sos/OTHER" and padded[1:8] == tokens
    assert padded[9:] == ["unk/OTHER"] * 13
    for n, expected in ((0, 2), (19, 21), (20, 22), (25, 22)):
        words_n = [f"w{i}/NOUN" for i in range(n)]
        padded, length = pad_caption(words_n)
        assert len(padded) == 22 and length == expected == padded.index("eos/OTHER") + 1
        assert padded[1 : length - 1] == words_n[:20]
    assert "w20/NOUN" not in pad_caption([f"w{i}/NOUN" for i in range(25)])[0]


def test_word_vectors_pos_classes_and_unknown_words(evaluator: OfficialEvaluator) -> None:
    vocab = evaluator.words
    tokens = toks("a/DET person/NOUN walk/VERB forward/ADV slowly/ADV and/CCONJ wave/VERB")
    tokens += ["left/ADJ", "chair/NOUN", "zigzag/NOUN", "the/DET"]
    batch = vocab.encode([tokens])
    classes = words.POS_CLASSES
    got = [classes[i] for i in batch.pos_ohot[0].argmax(-1)]
    assert got[: batch.lengths[0]] == [
        "OTHER", "DET", "NOUN", "Act_VIP", "Loc_VIP", "Desc_VIP", "OTHER", "VERB",
        "Loc_VIP", "Obj_VIP", "OTHER", "DET", "OTHER",
    ]  # fmt: skip
    assert (batch.pos_ohot.sum(-1) == 1).all()
    assert batch.lengths[0] == 13 and batch.tokens[0][12] == "eos/OTHER"
    unk = vocab.vectors[vocab.word_index["unk"]]
    np.testing.assert_array_equal(batch.word_embs[0, 10], unk)  # zigzag: outside the vocabulary
    np.testing.assert_array_equal(batch.word_embs[0, 13:], np.broadcast_to(unk, (9, vocab.dim)))
    np.testing.assert_array_equal(batch.word_embs[0, 3], vocab.vectors[vocab.word_index["walk"]])
    with pytest.raises(MotionkitError) as err:
        vocab.encode([["walk"]])
    assert "word/POS" in one_line_error(err)


@pytest.mark.skipif(not SAMPLE_TEXT.is_file(), reason="HumanML3D sample texts not present")
def test_real_caption_lines() -> None:
    for line in SAMPLE_TEXT.read_text().splitlines():
        tokens = line.split("#")[1].split(" ")
        padded, length = pad_caption(tokens_from_line(line))
        assert length == min(len(tokens), 20) + 2 and padded[length - 1] == "eos/OTHER"


def test_tag_caption_lexicon_and_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    words._spacy_pipeline.cache_clear()
    monkeypatch.setitem(sys.modules, "spacy", None)  # not installed
    tagged = tag_caption("A person walks forward, then waves.")
    assert tagged.tagger == "motionkit-lexicon"
    assert tagged.tokens == tuple(lexicon_tag("A person walks forward, then waves.").split())
    assert tagged.tokens[:3] == ("a/DET", "person/NOUN", "walk/VERB")
    with pytest.raises(MotionkitError) as err:
        tag_caption("a person walks", tagger="spacy")
    assert "spaCy" in one_line_error(err)
    words._spacy_pipeline.cache_clear()

    class Tok:
        def __init__(self, text: str, pos: str, lemma: str) -> None:
            self.text, self.pos_, self.lemma_ = text, pos, lemma

    seen = []

    def nlp(text: str) -> list[Tok]:
        seen.append(text)
        return [Tok("A", "DET", "a"), Tok("man", "NOUN", "man"), Tok("sidesteps", "VERB",
                "sidestep"), Tok("left", "VERB", "leave"), Tok(",", "PUNCT", ","),
                Tok("Feet", "NOUN", "foot"), Tok("2", "NUM", "2")]  # fmt: skip

    class FakeNlp:
        meta: ClassVar[dict[str, str]] = {"version": "1.0"}

        def __call__(self, text: str) -> list[Tok]:
            return nlp(text)

    fake = types.SimpleNamespace(__version__="9.9", load=lambda name: FakeNlp())
    monkeypatch.setitem(sys.modules, "spacy", fake)
    tagged = tag_caption("A man side-steps left, feet 2")
    assert seen == ["A man sidesteps left, feet 2"]  # hyphens removed as the official code does
    assert tagged.tokens == ("A/DET", "man/NOUN", "sidestep/VERB", "left/VERB", "foot/NOUN")
    assert tagged.tagger.startswith("spacy-9.9/en_core_web_sm")
    assert tag_caption("walk", tagger="lexicon").tagger == "motionkit-lexicon"
    words._spacy_pipeline.cache_clear()


# --- safe loading ---------------------------------------------------------------------------------


class _Shell:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


class _Open:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (builtins.open, (str(self.sentinel), "w"))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_plain_unpickler_refuses_code_and_reads_plain_data(tmp_path: Path, protocol: int) -> None:
    plain = [{"walk": 3, "unk": 0}, ["a", "b"], "text", 5, 2.5, None, True]
    assert safe_pickle.loads_plain_pickle(pickle.dumps(plain, protocol=protocol)) == plain
    for cls in (_Shell, _Open):
        sentinel = tmp_path / f"{cls.__name__}-{protocol}"
        payload = pickle.dumps(["walk", cls(sentinel)], protocol=protocol)
        with pytest.raises(pickle.UnpicklingError, match="refused to load global"):
            safe_pickle.loads_plain_pickle(payload)
        assert not sentinel.exists()
    assert issubclass(PlainDataUnpickler, pickle.Unpickler)


def test_malicious_glove_pickle_is_refused(tmp_path: Path) -> None:
    folder = write_official(tmp_path)
    sentinel = tmp_path / "pwned"
    with open(tmp_path / "glove" / "our_vab_words.pkl", "wb") as f:
        pickle.dump(["unk", _Shell(sentinel)], f)
    with pytest.raises(MotionkitError) as err:
        load_evaluator(folder)
    assert "refused to load global" in one_line_error(err)
    assert not sentinel.exists()


def test_malicious_checkpoint_is_refused(tmp_path: Path) -> None:
    folder = write_official(tmp_path)
    sentinel = tmp_path / "pwned"
    state = official_state(263, TINY)
    state["epoch"] = _Shell(sentinel)
    torch.save(state, folder / "text_mot_match" / "model" / "finest.tar")
    with pytest.raises(MotionkitError) as err:
        load_evaluator(folder)
    message = one_line_error(err)
    assert "weights_only=True" in message and "torch.save" in message
    assert not sentinel.exists()


def test_converted_evaluator_gives_identical_embeddings(
    tmp_path: Path, official: Path, evaluator: OfficialEvaluator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mean = np.linspace(-1, 1, 263)
    std = np.linspace(0.5, 2, 263)
    out = convert_official(official, tmp_path / "converted", mean=mean, std=std)
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluator.json", "glove.safetensors", "weights.safetensors", "words.json"
    ]  # fmt: skip

    def no_pickle(*args, **kwargs):
        raise AssertionError("a converted evaluator must load without unpickling")

    monkeypatch.setattr(torch, "load", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(PlainDataUnpickler, "load", no_pickle)
    converted = load_evaluator(out)
    assert converted.dims == evaluator.dims and converted.epoch == 7
    assert converted.dataset == "humanml3d" and str(out) in converted.description
    x = random_motion(3, 120, seed=5)
    assert torch.equal(
        converted.embed_motion(x, [120, 77, 40]), evaluator.embed_motion(x, [120, 77, 40])
    )
    assert torch.equal(converted.embed_captions(CAPTIONS), evaluator.embed_captions(CAPTIONS))
    assert converted.mean.dtype == np.float64
    np.testing.assert_array_equal(converted.mean, mean)
    np.testing.assert_array_equal(converted.std, std)
    assert converted.words.word_index == evaluator.words.word_index


# --- stats --------------------------------------------------------------------------------------


@pytest.mark.skipif(not (STATS / "t2m_mean.npy").is_file(), reason="evaluator stats not present")
def test_real_evaluator_stats(tmp_path: Path, official: Path) -> None:
    ev = load_evaluator(official, mean=STATS / "t2m_mean.npy", std=STATS / "t2m_std.npy")
    raw = np.load(STATS / "t2m_mean.npy")[None].repeat(50, 0) + 0.01
    normalised = ev.normalise(raw)
    assert normalised.dtype == np.float32 and normalised.shape == (50, 263)
    np.testing.assert_allclose(normalised[0], 0.01 / np.load(STATS / "t2m_std.npy"), rtol=1e-5)
    assert ev.embed_features([raw, raw[:44]]).shape == (2, TINY["coemb"])
    # found next to the checkpoint folder under the documented names
    folder = write_official(tmp_path)
    (folder / "stats").mkdir()
    for name in ("t2m_mean.npy", "t2m_std.npy", "kit_mean.npy", "kit_std.npy"):
        (folder / "stats" / name).write_bytes((STATS / name).read_bytes())
    found = load_evaluator(folder)
    np.testing.assert_array_equal(found.mean, np.load(STATS / "t2m_mean.npy"))
    kit = load_evaluator(write_official(tmp_path / "kit", 251), mean=STATS / "kit_mean.npy",
                         std=STATS / "kit_std.npy")  # fmt: skip
    assert kit.normalise(np.zeros((3, 251))).shape == (3, 251)
    with pytest.raises(MotionkitError) as err:
        load_evaluator(folder, mean=STATS / "kit_mean.npy", std=STATS / "kit_std.npy")
    assert "251-d" in one_line_error(err) and "263-d" in str(err.value)


# --- one-line errors ----------------------------------------------------------------------------


def test_errors_are_one_line(tmp_path: Path, official: Path, evaluator: OfficialEvaluator) -> None:
    def fails(match: str, fn, *args, **kwargs) -> None:
        with pytest.raises(MotionkitError) as err:
            fn(*args, **kwargs)
        assert match in one_line_error(err), str(err.value)

    fails("not found", load_evaluator, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    fails("text_mot_match/model/finest.tar", load_evaluator, tmp_path / "empty")
    fails("not found", load_evaluator, official, glove=tmp_path / "no-glove")
    fails("mean= and std=", load_evaluator, official, mean=np.zeros(263))

    folder = write_official(tmp_path / "a")
    (tmp_path / "a" / "glove" / "our_vab_idx.pkl").unlink()
    fails("lacks our_vab_idx.pkl", load_evaluator, folder)

    folder = write_official(tmp_path / "b")
    ckpt = folder / "text_mot_match" / "model" / "finest.tar"
    ckpt.write_bytes(ckpt.read_bytes()[:5000])
    fails("corrupt", load_evaluator, folder)
    ckpt.write_bytes(np.random.default_rng(0).bytes(3000))
    fails("corrupt", load_evaluator, ckpt)

    folder = write_official(tmp_path / "c")
    state = official_state(263, TINY)
    del state["motion_encoder"]["hidden"]
    torch.save(state, folder / "text_mot_match" / "model" / "finest.tar")
    fails("motion_encoder weights do not match", load_evaluator, folder)
    torch.save({"model": state["text_encoder"]}, folder / "text_mot_match" / "model" / "finest.tar")
    fails("not a text_mot_match evaluator checkpoint", load_evaluator, folder)

    folder = write_official(tmp_path / "d")
    (tmp_path / "d" / "glove" / "our_vab_data.npy").write_bytes(b"\x93NUMPY garbage")
    fails("our_vab_data.npy", load_evaluator, folder)
    folder = write_official(tmp_path / "e")
    (tmp_path / "e" / "glove" / "our_vab_idx.pkl").write_bytes(b"\x80\x04garbage")
    fails("GloVe word index", load_evaluator, folder)
    folder = write_official(tmp_path / "f")
    write_glove(tmp_path / "f" / "glove", dim=5)
    fails("5-d", load_evaluator, folder)

    fails("263-d features", evaluator.embed_motion, random_motion(2, 50, 259), [50, 50])
    fails("263-d features", evaluator.normalise, np.zeros((4, 251)))
    fails("no normalisation stats", evaluator.normalise, np.zeros((4, 263)))
    fails("lengths must be in 4..50", evaluator.embed_motion, random_motion(2, 50), [50, 60])
    fails("lengths must be in 4..50", evaluator.embed_motion, random_motion(2, 50), [50, 3])
    fails("2 integers", evaluator.embed_motion, random_motion(2, 50), [50])
    caps = evaluator.encode_captions(CAPTIONS)
    fails("1..22", evaluator.embed_text, caps.word_embs, caps.pos_ohot, [3, 0, 4])
    bad = random_motion(1, 50)
    bad[0, 10, 0] = np.nan
    fails("NaN", evaluator.embed_motion, bad, [50])

    out = convert_official(official, tmp_path / "conv")
    (out / "weights.safetensors").write_bytes(b"not safetensors")
    fails("unreadable", load_evaluator, out)
    (out / "words.json").unlink()
    fails("lacks words.json", load_evaluator, out)


def test_the_real_spacy_tagger_when_the_eval_extra_is_installed() -> None:
    pytest.importorskip("spacy")
    tagged = tag_caption("A person walks forward and waves his left hand.", tagger="spacy")
    assert tagged.tagger.startswith("spacy-3.8") and "en_core_web_sm-3.8" in tagged.tagger
    # the official processing: lemmas for nouns and verbs ("left" kept), punctuation dropped
    assert tagged.tokens[:3] == ("A/DET", "person/NOUN", "walk/VERB")
    assert "left/ADJ" in tagged.tokens and "hand/NOUN" in tagged.tokens
    assert tag_caption("a man jumps").tagger == tagged.tagger  # "auto" prefers spaCy
