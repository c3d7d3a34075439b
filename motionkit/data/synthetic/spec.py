"""What a synthetic clip shows: segments of the motion vocabulary, their parameters and timing.

A clip is a sequence of ``Segment`` (one to three actions played one after the other).
The parameters a caption states (side, count, direction, speed, turn angle, standing up again)
are fields of the segment and fully determine the motion the segment produces; the remaining
variation (timing within a few percent, amplitudes, posture) comes from the random generator
and from the clip's ``Style``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from motionkit.data.synthetic.body import COLUMN, FPS, PARAMS
from motionkit.errors import MotionkitError

SPEEDS = ("slow", "normal", "fast")
#: Frames two consecutive segments overlap (and crossfade) in a clip.
OVERLAP = 6
#: Clip lengths in poses: ``poses - 1`` feature frames pass the standard HumanML3D length
#: filter (40 <= T < 200) and stay within its maximum motion length of 196.
MIN_FRAMES, MAX_FRAMES = 41, 197

#: Allowed parameter values per action; the first value is the default.
VOCABULARY: dict[str, dict[str, tuple]] = {
    "walk": {"direction": ("forward", "backward"), "speed": SPEEDS},
    "jog": {},
    "run": {},
    "sidestep": {"side": ("left", "right"), "speed": SPEEDS},
    "turn": {"side": ("left", "right"), "angle": (90, 180)},
    "circle": {"direction": ("counterclockwise", "clockwise"), "speed": SPEEDS},
    "jump": {"direction": ("in_place", "forward"), "count": (1, 2, 3)},
    "wave": {"side": ("right", "left", "both"), "count": (1, 2, 3, 4)},
    "raise": {"side": ("right", "left", "both"), "count": (1, 2)},
    "punch": {"side": ("right", "left"), "count": (1, 2, 3, 4)},
    "kick": {"side": ("right", "left"), "count": (1, 2, 3)},
    "squat": {"count": (1, 2, 3)},
    "sit": {"stand_up": (False, True)},
}
#: Actions whose duration is free (chosen by the sampler or the caller), in seconds: range.
FREE_SECONDS = {
    "walk": (2.5, 6.0),
    "jog": (2.5, 5.0),
    "run": (2.5, 5.0),
    "sidestep": (2.0, 4.5),
}
#: Larger counts than the vocabulary samples are accepted in explicit specs, up to this.
MAX_COUNT = 6


class SpecError(MotionkitError, ValueError):
    """A segment names an unknown action or a parameter value the action does not have."""


@dataclass(frozen=True)
class Segment:
    """One action of a clip.

    Attributes:
        action: a key of ``VOCABULARY``.
        side: ``left``/``right`` (``both`` for arm actions): limb used, sidestep or turn direction.
        count: repetitions of a counted action (waves, jumps, punches, kicks, squats, raises).
        speed: ``slow``/``normal``/``fast`` for walks, sidesteps and circles.
        direction: ``forward``/``backward`` (walk), ``in_place``/``forward`` (jump),
            ``clockwise``/``counterclockwise`` seen from above (circle).
        angle: turn angle in degrees (turn).
        stand_up: whether a seated person stands up again (sit).
        frames: duration in frames; ``None`` lets the generator choose (a typical duration).
    """

    action: str
    side: str | None = None
    count: int = 1
    speed: str = "normal"
    direction: str | None = None
    angle: int | None = None
    stand_up: bool = False
    frames: int | None = None

    def __post_init__(self) -> None:
        allowed = VOCABULARY.get(self.action)
        if allowed is None:
            raise SpecError(
                f"unknown synthetic action {self.action!r}; known: {', '.join(VOCABULARY)}"
            )
        for name in ("side", "direction", "angle"):
            if name in allowed and getattr(self, name) is None:
                object.__setattr__(self, name, allowed[name][0])
        for name, values in allowed.items():
            value = getattr(self, name)
            if name == "count":
                if not 1 <= value <= MAX_COUNT:
                    raise SpecError(f"{self.action}: count must be 1..{MAX_COUNT}, got {value}")
            elif value not in values:
                raise SpecError(f"{self.action}: {name} must be one of {values}, got {value!r}")
        for name, default in (("side", None), ("direction", None), ("angle", None)):
            if name not in allowed and getattr(self, name) != default:
                raise SpecError(f"{self.action} takes no {name}")
        if "count" not in allowed and self.count != 1:
            raise SpecError(f"{self.action} takes no count")
        if "speed" not in allowed and self.speed != "normal":
            raise SpecError(f"{self.action} takes no speed")
        if self.frames is not None and self.frames < 2 * OVERLAP:
            raise SpecError(f"{self.action}: frames must be at least {2 * OVERLAP}")

    @property
    def label(self) -> str:
        """Short name of the variant, e.g. ``wave_right``, ``walk_backward``, ``turn_left_180``."""
        parts = [self.action]
        if self.direction is not None and self.direction not in ("forward", "in_place"):
            parts.append(self.direction)
        if self.side is not None:
            parts.append(self.side)
        if self.action == "turn":
            parts.append(str(self.angle))
        if self.action == "sit" and self.stand_up:
            parts.append("stand_up")
        return "_".join(parts)

    def to_dict(self) -> dict:
        """The action, the parameters it takes and the frames (JSON-ready)."""
        out = {"action": self.action}
        out |= {name: getattr(self, name) for name in VOCABULARY[self.action]}
        return out | ({"frames": self.frames} if self.frames is not None else {})


def nominal_seconds(segment: Segment) -> float:
    """Typical duration of a segment at tempo 1 (free-duration actions: mid-range)."""
    n = segment.count
    match segment.action:
        case "walk" | "jog" | "run" | "sidestep":
            low, high = FREE_SECONDS[segment.action]
            return (low + high) / 2
        case "turn":
            return 1.6 if segment.angle == 90 else 2.4
        case "circle":
            return {"slow": 8.5, "normal": 7.0, "fast": 6.0}[segment.speed]
        case "jump":
            return 0.9 + n * (0.85 if segment.direction == "in_place" else 0.95)
        case "wave":
            return 1.1 + 0.5 * n
        case "raise":
            return 2.0 * n - 0.2
        case "punch":
            return 0.9 + 0.5 * n
        case "kick":
            return 0.4 + 1.0 * n
        case "squat":
            return 0.2 + 1.7 * n
        case "sit":
            return 3.2 + (1.8 if segment.stand_up else 0.0)
    raise SpecError(f"no duration for {segment.action!r}")  # pragma: no cover


#: Tempo range: counted actions last ``nominal * tempo``.
TEMPO = (0.9, 1.12)


def resolve_frames(segment: Segment, rng: np.random.Generator) -> Segment:
    """The segment with ``frames`` set (a random tempo around the nominal duration)."""
    if segment.frames is not None:
        return segment
    tempo = 1.0 if segment.action in FREE_SECONDS else rng.uniform(*TEMPO)
    return replace(segment, frames=round(nominal_seconds(segment) * tempo * FPS))


@dataclass(frozen=True)
class Style:
    """Per-clip posture and vigour: the variation that no caption states."""

    amplitude: float = 1.0  # scales gait and gesture amplitudes
    cadence: float = 1.0  # scales gait frequencies
    arm_abd: float = 6.0  # degrees the arms hang away from the body
    elbow: float = 12.0  # resting elbow flexion, degrees
    knee: float = 3.0  # resting knee flexion, degrees
    lean: float = 2.0  # resting forward lean of the spine, degrees
    neck: float = 2.0  # resting head pitch, degrees
    stance: float = 1.5  # resting hip abduction (feet apart), degrees
    raise_forward: bool = False  # raise arms forwards rather than sideways

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        u = rng.uniform
        return cls(
            amplitude=u(0.85, 1.15),
            cadence=u(0.92, 1.08),
            arm_abd=u(4.0, 10.0),
            elbow=u(8.0, 20.0),
            knee=u(1.0, 6.0),
            lean=u(-1.0, 5.0),
            neck=u(-4.0, 8.0),
            stance=u(0.5, 3.0),
            raise_forward=bool(rng.random() < 0.4),
        )

    def neutral(self) -> np.ndarray:
        """The standing pose ``(len(PARAMS),)`` of this style."""
        pose = np.zeros(len(PARAMS))
        for side in "lr":
            pose[COLUMN[f"flat_{side}"]] = 1.0
            pose[COLUMN[f"hip_abd_{side}"]] = self.stance
            pose[COLUMN[f"knee_{side}"]] = self.knee
            pose[COLUMN[f"hip_flex_{side}"]] = 0.5 * self.knee
            pose[COLUMN[f"shoulder_abd_{side}"]] = self.arm_abd
            pose[COLUMN[f"elbow_{side}"]] = self.elbow
        pose[COLUMN["spine_lean"]] = self.lean
        pose[COLUMN["neck_pitch"]] = self.neck
        return pose


@dataclass(frozen=True)
class ClipSpec:
    """A clip: its segments (with frames resolved) and its style."""

    segments: tuple[Segment, ...]
    style: Style = field(default_factory=Style)

    def to_dict(self) -> dict:
        return {
            "segments": [s.to_dict() for s in self.segments],
            "style": {
                k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self.style).items()
            },
        }


# Sampling weights of the actions in random clips, and how many segments a clip has.
ACTION_WEIGHTS = {
    "walk": 16,
    "jog": 5,
    "run": 5,
    "sidestep": 7,
    "turn": 8,
    "circle": 4,
    "jump": 9,
    "wave": 9,
    "raise": 6,
    "punch": 7,
    "kick": 7,
    "squat": 6,
    "sit": 5,
}
SEGMENT_COUNT_WEIGHTS = {1: 0.45, 2: 0.42, 3: 0.13}


def _pick(rng: np.random.Generator, weights: dict) -> object:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def sample_segment(
    rng: np.random.Generator, action: str, budget: int, **fixed: object
) -> Segment | None:
    """A random segment of ``action`` lasting at most ``budget`` frames (None if impossible).

    Parameters are drawn uniformly from ``VOCABULARY`` unless ``fixed``; a count is lowered
    until the segment fits; free-duration actions get a random length within their range.
    """
    allowed = VOCABULARY[action]
    params = {name: values[rng.integers(len(values))] for name, values in allowed.items()}
    params |= fixed
    if "count" in params:
        # the largest count up to the drawn one that fits the budget at the slowest tempo
        while nominal_seconds(Segment(action, **params)) * TEMPO[1] * FPS > budget:
            if params["count"] == 1:
                return None
            params["count"] -= 1
    segment = Segment(action, **params)
    if action in FREE_SECONDS:
        low, high = FREE_SECONDS[action]
        high = min(high, budget / FPS)
        return replace(segment, frames=round(rng.uniform(low, high) * FPS)) if high >= low else None
    segment = resolve_frames(segment, rng)
    return segment if segment.frames <= budget else None


def sample_clip(rng: np.random.Generator) -> ClipSpec:
    """A random clip: 1-3 different actions in a row, lasting at most ``MAX_FRAMES`` in all.

    Sitting down without standing up again only ends a clip.
    """
    wanted = int(_pick(rng, SEGMENT_COUNT_WEIGHTS))
    segments: list[Segment] = []
    budget = MAX_FRAMES  # frames left; a further segment overlaps the previous one
    for _ in range(20):  # a few draws may not fit the remaining budget
        if len(segments) == wanted:
            break
        weights = {
            k: w for k, w in ACTION_WEIGHTS.items() if not segments or k != segments[-1].action
        }
        action = str(_pick(rng, weights))
        fixed = {"stand_up": True} if action == "sit" and len(segments) + 1 < wanted else {}
        segment = sample_segment(rng, action, budget + (OVERLAP if segments else 0), **fixed)
        if segment is None:
            continue
        budget -= segment.frames - (OVERLAP if segments else 0)
        segments.append(segment)
        if action == "sit" and not segment.stand_up:
            break
    return ClipSpec(tuple(segments), Style.sample(rng))
