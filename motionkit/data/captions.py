"""Caption lines of the HumanML3D text format, and a small part-of-speech tagger for them.

A line of ``texts/<id>.txt`` reads ``caption#word/POS word/POS ...#start#end`` (HumanML3D,
Guo et al. 2022). ``start == end == 0.0`` means the caption covers the whole clip; otherwise it
covers ``motion[int(start * fps):int(end * fps)]``. The word/POS tokens feed the standard text
evaluator (one-hot of 15 POS classes); the official files were tagged with spaCy.

Captions written by motionkit's converters and synthetic corpus are tagged with ``tag``,
a lexicon plus suffix rules over the vocabulary of motion descriptions. It is not spaCy, but it
uses the same universal tags and is deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEXICON: dict[str, str] = {}


def _add(tag: str, words: str) -> None:
    for word in words.split():
        _LEXICON[word] = tag


_add("DET", "a an the this that these those each every another some any both all")
_add("PRON", "he she it they them him her his its their someone somebody person's one itself")
_add("PRON", "himself herself themselves something")
_add(
    "ADP",
    "in on at to from with into onto over under around across along toward towards forward "
    "backward backwards behind through up down off out of by for about above below near "
    "before after while during",
)
_add("CCONJ", "and or but then")
_add("AUX", "is are was were be been being has have had does do did can could will would")
_add("PART", "not to")
_add(
    "NUM",
    "one two three four five six seven eight nine ten twice thrice once first second third",
)
_add(
    "ADV",
    "slowly quickly fast rapidly briskly gently again repeatedly back away together around "
    "happily sadly angrily proudly tiredly cheerfully energetically confidently shyly "
    "carefully casually lazily wildly calmly nervously clumsily gracefully strongly "
    "slightly very then finally",
)
_add(
    "ADJ",
    "left right happy sad angry proud tired old young childish feminine masculine active "
    "normal slow quick big small large little cheerful energetic confident shy clumsy "
    "straight full half whole high low short long",
)
_LEMMA: dict[str, str] = {}
_IRREGULAR = {
    "ran": "run",
    "sat": "sit",
    "stood": "stand",
    "threw": "throw",
    "thrown": "throw",
    "spun": "spin",
    "feet": "foot",
    "people": "person",
    "men": "man",
    "women": "woman",
}


def _inflections(base: str, tag: str) -> list[str]:
    """Regular inflected forms of a base word (plural for nouns; -s, -ing, -ed for verbs)."""
    plural = base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")
    if tag == "NOUN":
        return [plural]
    stem = base[:-1] if base.endswith("e") and not base.endswith("ee") else base
    short = len(base) <= 4 and base[-1] not in "aeiouwy" and base[-2] in "aeiou"
    if short and base[-3] not in "aeiou":  # run -> running, sit -> sitting
        stem = base + base[-1]
    return [plural, stem + "ing", stem + "ed"]


def _add_lemmas(tag: str, words: str) -> None:
    """Register base words and their regular forms; the forms lemmatise to the base."""
    for base in words.split():
        _LEXICON[base] = tag
        _LEMMA[base] = base
        for form in _inflections(base, tag):
            _LEXICON.setdefault(form, tag)
            _LEMMA.setdefault(form, base)


_add_lemmas(
    "NOUN",
    "arm hand leg foot knee head hip shoulder elbow wrist body torso back chest waist finger "
    "circle side place floor ground ball person man woman figure human character step time",
)
_add_lemmas(
    "VERB",
    "walk run jog jump hop turn wave raise lift punch kick squat sit stand bow dance step "
    "sidestep move throw spin lower stretch crouch climb stride stroll bend perform go swing "
    "rotate pace march skip lean crawl shuffle start stop",
)
for _form, _base in _IRREGULAR.items():
    _LEXICON[_form] = _LEXICON[_base]
    _LEMMA[_form] = _base


def lemma(word: str) -> str:
    """Base form of a known noun or verb (``waves`` -> ``wave``, ``feet`` -> ``foot``)."""
    return _LEMMA.get(word.lower(), word.lower())


def _tag_word(word: str) -> str:
    lower = word.lower()
    if lower in _LEXICON:
        return _LEXICON[lower]
    if lower.isdigit():
        return "NUM"
    if lower.endswith("ly"):
        return "ADV"
    if lower.endswith(("ing", "ed")):
        return "VERB"
    if not lower.isalpha():
        return "PUNCT"
    return "NOUN"


_WORD = re.compile(r"[A-Za-z]+|'[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def tag(caption: str) -> str:
    """``"A person waves."`` -> ``"a/DET person/NOUN wave/VERB"``.

    Words are lower-cased; nouns and verbs become their lemma, as in the official text files.

    The evaluator derives its finer classes (body parts, actions, locations) from the words
    themselves, so universal tags are all a caption file needs.
    """
    tokens = []
    for word in _WORD.findall(caption.replace("-", "")):
        if not word.isalpha():  # the official files keep alphabetic tokens only
            continue
        pos = _tag_word(word)
        # HumanML3D keeps lemmas of nouns and verbs, except the word "left"
        text = lemma(word) if pos in ("NOUN", "VERB") and word.lower() != "left" else word.lower()
        tokens.append(f"{text}/{pos}")
    return " ".join(tokens)


@dataclass(frozen=True)
class Caption:
    """One caption line: text, its word/POS tokens, and the covered span in seconds."""

    text: str
    tokens: tuple[str, ...] = ()
    start: float = 0.0
    end: float = 0.0

    @property
    def whole_clip(self) -> bool:
        return self.start == 0.0 and self.end == 0.0

    def to_line(self) -> str:
        tokens = " ".join(self.tokens) if self.tokens else tag(self.text)
        text = self.text.replace("#", " ").replace("\n", " ").strip()
        return f"{text}#{tokens}#{self.start}#{self.end}"


def parse_line(line: str, where: str) -> Caption:
    """Parse ``caption#tokens#start#end`` (missing span fields count as the whole clip)."""
    parts = line.rstrip("\n").split("#")
    if len(parts) < 2 or not parts[0].strip():
        raise ValueError(f"{where}: expected 'caption#word/POS ...#start#end', got {line!r}")
    text, tokens = parts[0].strip(), tuple(parts[1].split())
    try:
        start = float(parts[2]) if len(parts) > 2 and parts[2].strip() else 0.0
        end = float(parts[3]) if len(parts) > 3 and parts[3].strip() else 0.0
    except ValueError:
        raise ValueError(f"{where}: start/end must be numbers, got {line!r}") from None
    if start != start or end != end:  # NaN
        start = end = 0.0
    return Caption(text, tokens, start, end)
