"""The word vocabulary of the ``learned`` text encoder, built from training captions.

Tokenisation: lower-case, then words are maximal runs of letters and digits, optionally joined by
apostrophes (``"person's"`` is one word, ``"t-pose"`` two); punctuation is dropped. Ids::

    0 PAD    padding (never a real token)
    1 UNK    any word outside the vocabulary
    2 CLS    first token of every caption, so that the empty caption has one valid token
    3 ...    words, most frequent first, ties broken alphabetically

The vocabulary is deterministic for a multiset of captions (caption order does not matter) and is
saved with the run as ``text_vocab.json`` (written atomically). Torch-free.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_text

#: File name of the vocabulary inside a run folder.
VOCAB_FILE = "text_vocab.json"
#: ``format`` field of the JSON file.
VOCAB_FORMAT = "motionkit-text-vocab"
VOCAB_VERSION = 1

PAD, UNK, CLS = "<pad>", "<unk>", "<cls>"
SPECIALS: tuple[str, ...] = (PAD, UNK, CLS)
PAD_ID, UNK_ID, CLS_ID = 0, 1, 2

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize_words(caption: str) -> list[str]:
    """Lower-cased words of ``caption`` (``"A man's T-pose."``: ``a man's t pose``)."""
    return _WORD.findall(caption.lower())


@dataclass(frozen=True)
class WordVocab:
    """Words and their training counts; ids are the positions in ``tokens``.

    Attributes:
        words: the vocabulary words, in id order (id ``i + 3`` for ``words[i]``).
        counts: how often each word occurred in the captions it was built from.
        min_count, max_size: the settings it was built with (recorded, not re-applied).
    """

    words: tuple[str, ...]
    counts: tuple[int, ...]
    min_count: int = 1
    max_size: int | None = None
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.counts):
            raise ValueError(f"{len(self.words)} words but {len(self.counts)} counts")
        ids = {token: i for i, token in enumerate(self.tokens)}
        if len(ids) != len(self.tokens):
            raise ValueError("the vocabulary lists a word twice or a special token as a word")
        object.__setattr__(self, "_ids", ids)

    @classmethod
    def build(
        cls, captions: Iterable[str], *, min_count: int = 1, max_size: int | None = None
    ) -> WordVocab:
        """The words occurring at least ``min_count`` times, at most ``max_size`` tokens in all.

        ``max_size`` counts the three special tokens; words are kept by count (descending),
        then alphabetically.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be at least {len(SPECIALS)}, got {max_size}")
        counter: Counter[str] = Counter()
        for caption in captions:
            counter.update(tokenize_words(caption))
        for special in SPECIALS:
            counter.pop(special, None)  # cannot come out of tokenize_words; kept for safety
        ranked = sorted(
            ((word, n) for word, n in counter.items() if n >= min_count),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls(
            words=tuple(word for word, _ in ranked),
            counts=tuple(n for _, n in ranked),
            min_count=min_count,
            max_size=max_size,
        )

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token in id order: the special tokens, then the words."""
        return SPECIALS + self.words

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.words)

    def id(self, word: str) -> int:
        """Id of ``word`` (UNK when unknown)."""
        return self._ids.get(word, UNK_ID)

    def encode(self, caption: str, max_tokens: int | None = None) -> list[int]:
        """``[CLS, word ids...]``, truncated to ``max_tokens`` ids; never empty."""
        ids = [CLS_ID] + [self.id(word) for word in tokenize_words(caption)]
        return ids[:max_tokens] if max_tokens is not None else ids

    # -- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": VOCAB_FORMAT,
            "version": VOCAB_VERSION,
            "tokenizer": "lower-case words (letters and digits, inner apostrophes)",
            "specials": list(SPECIALS),
            "min_count": self.min_count,
            "max_size": self.max_size,
            "words": list(self.words),
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Any) -> WordVocab:
        """Inverse of ``to_dict``; raises ``ValueError`` saying what is malformed."""
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            raise ValueError(f"format is not {VOCAB_FORMAT!r}")
        if data.get("version") != VOCAB_VERSION:
            raise ValueError(f"version {data.get('version')!r} is not {VOCAB_VERSION}")
        if data.get("specials") != list(SPECIALS):
            raise ValueError(f"special tokens {data.get('specials')!r} are not {list(SPECIALS)}")
        words, counts = data.get("words"), data.get("counts")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("words must be a list of strings")
        if not isinstance(counts, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in counts
        ):
            raise ValueError("counts must be a list of integers")
        min_count = data.get("min_count", 1)
        max_size = data.get("max_size")
        if not isinstance(min_count, int) or not (max_size is None or isinstance(max_size, int)):
            raise ValueError("min_count and max_size must be integers")
        return cls(tuple(words), tuple(counts), min_count=min_count, max_size=max_size)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WordVocab:
        """Read a vocabulary written by ``save``; a bad file is a one-line ``MotionkitError``."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MotionkitError(
                f"{path} is not a readable text vocabulary ({reason}); restore it, or delete it "
                "to rebuild it from the training captions (the run's weights will no longer fit)"
            ) from None


def vocab_for_run(
    captions: Iterable[str] | None,
    run_dir: str | os.PathLike[str] | None,
    *,
    min_count: int = 1,
    max_size: int | None = None,
) -> WordVocab:
    """The run's vocabulary: ``run_dir/text_vocab.json`` when it exists, else built from
    ``captions`` (and written to ``run_dir`` when given).

    Raises:
        MotionkitError: no vocabulary file and no captions, or an unreadable file.
    """
    path = Path(run_dir) / VOCAB_FILE if run_dir is not None else None
    if path is not None and path.exists():
        return WordVocab.load(path)
    captions = list(captions) if captions is not None else []
    if not captions:
        where = f"{path} does not exist" if path is not None else "no run folder was given"
        raise MotionkitError(
            f"the learned text encoder needs its vocabulary but {where} and no training captions "
            "were given; pass the training captions (or the run folder holding text_vocab.json)"
        )
    vocab = WordVocab.build(captions, min_count=min_count, max_size=max_size)
    if path is not None:
        vocab.save(path)
    return vocab
