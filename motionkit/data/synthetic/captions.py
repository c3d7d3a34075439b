"""Natural-language captions of synthetic clips.

Every segment has several phrasings (third person, present tense) that all state the
parameters the motion depends on: the side, the count (a count of one may go unsaid, never a
larger one), the direction, the speed (``normal`` may go unsaid, never ``slow`` or ``fast``),
the turn angle (``turns left`` is a quarter turn, a half turn says ``around`` or ``180``) and
whether a seated person stands up again. A caption joins the phrases of the clip's segments
in order ("..., then ...", "... and then ...", "first ..., then ...").
"""

from __future__ import annotations

import numpy as np

from motionkit.data.synthetic.spec import VOCABULARY, ClipSpec, Segment

SUBJECTS = (
    "a person",
    "someone",
    "the person",
    "a man",
    "a woman",
    "the figure",
    "a human",
    "the character",
)
_NUMBER = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
_PACE = {"slow": ("slowly", "at a slow pace"), "fast": ("quickly", "at a fast pace", "briskly")}
_CIRCLING = {
    "clockwise": ("clockwise",),
    "counterclockwise": ("counterclockwise", "counter-clockwise", "anticlockwise"),
}

# Phrases per variant: verb phrases, to which the count is appended ("... twice"), and counted
# phrases, whose ``{n}`` is the number word (or "a" for one) and ``{s}``/``{es}`` a plural
# ending. Other fields: ``{side}``; ``{hand}``, ``{arm}``, ``{leg}``, ``{foot}``, ``{fist}``
# ("the right hand", "their left arm", "both hands"); ``{way}``/``{a_way}``, the circling
# direction without/with its article.
_VERBS: dict[str, tuple[str, ...]] = {
    "walk_forward": ("walks forward", "walks straight ahead", "walks forwards", "moves forward"),
    "walk_backward": ("walks backwards", "walks backward", "steps backwards", "moves backwards"),
    "jog": ("jogs forward", "jogs straight ahead", "jogs", "goes for a short jog"),
    "run": ("runs forward", "runs straight ahead", "runs", "runs in a straight line"),
    "sidestep": (
        "sidesteps to the {side}",
        "steps sideways to the {side}",
        "shuffles sideways to their {side}",
        "side steps to the {side}",
    ),
    "turn_90": (
        "turns {side}",
        "turns to the {side}",
        "makes a quarter turn to the {side}",
        "turns 90 degrees to the {side}",
    ),
    "turn_180": (
        "turns around to the {side}",
        "does a half turn to the {side}",
        "turns 180 degrees to the {side}",
        "turns all the way around to the {side}",
    ),
    "circle": (
        "walks in a circle {way}",
        "walks {way} in a circle",
        "walks around in {a_way} circle",
        "walks a full circle {way}",
    ),
    "jump_in_place": ("jumps in place", "jumps up and down", "jumps on the spot"),
    "jump_forward": ("jumps forward", "leaps forward", "jumps ahead"),
    "wave": ("waves with {hand}", "raises {arm} and waves", "waves {hand}"),
    "raise": ("raises {arm}", "lifts {arm} up", "raises {arm} above the head", "puts {hand} up"),
    "punch": ("punches with {arm}", "punches forward with {fist}"),
    "kick": ("kicks with {leg}", "kicks forward with {foot}"),
    "squat": ("squats", "squats down and stands back up", "bends the knees into a squat"),
    "sit": (
        "sits down",
        "takes a seat",
        "sits down as if on a chair",
        "lowers themselves onto a seat",
    ),
    "sit_stand_up": (
        "sits down and then stands back up",
        "sits down and gets up again",
        "takes a seat and stands up again",
        "sits down before standing up again",
    ),
}
_COUNTED: dict[str, tuple[str, ...]] = {
    "jump_in_place": ("does {n} jump{s} in place", "makes {n} vertical jump{s}"),
    "jump_forward": ("does {n} forward jump{s}", "makes {n} jump{s} forward"),
    "punch": ("throws {n} {side} punch{es}",),
    "kick": ("does {n} {side} kick{s}",),
    "squat": ("does {n} squat{s}",),
}


def _variant(seg: Segment) -> str:
    match seg.action:
        case "walk":
            return f"walk_{seg.direction}"
        case "turn":
            return f"turn_{seg.angle}"
        case "jump":
            return f"jump_{seg.direction}"
        case "sit":
            return "sit_stand_up" if seg.stand_up else "sit"
    return seg.action


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def phrase(seg: Segment, rng: np.random.Generator) -> str:
    """One random verb phrase for a segment, stating all of its parameters."""
    verbs = _VERBS[_variant(seg)]
    template = _pick(rng, verbs + _COUNTED.get(_variant(seg), ()))
    side = seg.side or ""

    def limb(part: str) -> str:
        if side == "both":
            return f"both {part}s"
        return f"{_pick(rng, ('the', 'their'))} {side} {part}"

    way = _pick(rng, _CIRCLING.get(seg.direction or "", ("",)))
    text = template.format(
        side=side,
        hand=limb("hand"),
        arm=limb("arm"),
        leg=limb("leg"),
        foot=limb("foot"),
        fist=limb("fist"),
        way=way,
        a_way=("an " if way[:1] in ("a", "e", "i", "o", "u") else "a ") + way,
        n=_NUMBER[seg.count] if seg.count > 1 else _pick(rng, ("a", "a single")),
        s="s" if seg.count > 1 else "",
        es="es" if seg.count > 1 else "",
    )
    if template in verbs and "count" in VOCABULARY[seg.action]:
        if seg.count > 1:
            text += " " + (
                _pick(rng, ("twice", "two times")) if seg.count == 2 else _TIMES[seg.count]
            )
        elif rng.random() < 0.3:
            text += " once"
    if seg.speed != "normal":
        adverb = _pick(rng, _PACE[seg.speed])
        text = (
            f"{adverb} {text}"
            if adverb.endswith("ly") and rng.random() < 0.5
            else f"{text} {adverb}"
        )
    return text


def _join(parts: list[str], rng: np.random.Generator) -> str:
    """Join phrases in order: "a, then b", "a and then b", "first a, then b", ..."""
    if len(parts) == 1:
        return parts[0]
    head, last = ", ".join(parts[:-1]), parts[-1]
    match int(rng.integers(4)):
        case 0:
            return f"{head} and then {last}"
        case 1:
            return f"{head}, then {last}"
        case 2 if len(parts) > 2:
            return f"first {head}, and finally {last}"
        case 2:
            return f"first {head}, then {last}"
    return f"{head}, and after that {last}"


def caption_clip(spec: ClipSpec, rng: np.random.Generator, count: int = 3) -> list[str]:
    """``count`` different captions of a clip (sentences ending with a period)."""
    captions: list[str] = []
    for _ in range(20 * count):
        subject = _pick(rng, SUBJECTS)
        parts = [phrase(seg, rng) for seg in spec.segments]
        sentence = f"{subject} {_join(parts, rng)}."
        if sentence not in captions:
            captions.append(sentence)
        if len(captions) == count:
            break
    return captions
