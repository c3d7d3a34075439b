"""Convert a folder of BVH motion capture into a HumanML3D-layout dataset.

Every ``*.bvh`` under the source folder is read (``motionkit.motion.bvh``), retargeted to the
22 SMPL joints at 20 fps (``motionkit.motion.retarget``), turned into 263-d features
(``motionkit.motion.features.extract_features``, as HumanML3D, Guo et al. 2022) and written
with captions by ``motionkit.data.layout``; then the train/val/test splits and the train
split's ``Mean.npy``/``Std.npy``. A file that cannot be converted is skipped and reported with
its reason; one bad file never stops the folder.

Captions come from a *caption source*: any callable ``source(bvh_path) -> list[str]`` (an empty
list means "nothing for this file": the file name is used instead). Built in, and detected from
the folder by ``detect_captions``:

- ``BandaiCaptions``: Bandai-Namco-Research-Motiondataset (``cfg/content_label.txt``,
  ``cfg/style_label.txt`` and a ``<name>.json`` ``{"content": i, "style": j}`` per clip): three
  paraphrases per clip from templates of the content and style labels ("a person walks
  happily.", "someone walks in a cheerful way.", "a happy person is walking.").
- ``CMUCaptions``: a ``labels.tsv`` with a ``trial`` column: its ``kitml_text`` sentence
  when present, else the CMU description turned into a short sentence.
- ``FileNameCaptions``: "a person performs <words of the file name>." for any folder.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from motionkit.data.layout import (
    DatasetError,
    sanitize_id,
    split_ids,
    write_clip,
    write_splits,
    write_stats,
)
from motionkit.errors import MotionkitError

if TYPE_CHECKING:
    from motionkit.motion.retarget import JointMap

__all__ = [
    "MIN_FRAMES",
    "BandaiCaptions",
    "CMUCaptions",
    "CaptionSource",
    "FileNameCaptions",
    "PrepareReport",
    "bandai_captions",
    "cmu_sentence",
    "detect_captions",
    "prepare_bvh_folder",
]

#: Clips with fewer poses than this at 20 fps are skipped: their ``poses - 1`` feature frames
#: would fall below HumanML3D's ``min_motion_len`` of 40.
MIN_FRAMES = 41


@runtime_checkable
class CaptionSource(Protocol):
    """Captions for one BVH file; ``[]`` when the source has nothing for it."""

    def __call__(self, bvh: Path) -> list[str]: ...


# --------------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------------


def _name_words(stem: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)  # camelCase -> camel Case
    words = re.split(r"[\s_\-.]+", spaced)
    return [w.lower() for w in words if w and w.isalpha()]


class FileNameCaptions:
    """``"a person performs jumping jacks."`` from ``jumping_jacks_03.bvh`` (digits dropped)."""

    def __call__(self, bvh: Path) -> list[str]:
        words = _name_words(Path(bvh).stem)
        if not words:
            return ["a person moves."]
        return [f"a person performs {' '.join(words)}."]


# --------------------------------------------------------------------------------------------
# Bandai-Namco-Research-Motiondataset
# --------------------------------------------------------------------------------------------

#: Content label -> (third person, gerund) verb phrases.
_BANDAI_CONTENT: dict[str, tuple[str, str]] = {
    "walk": ("walks", "walking"),
    "run": ("runs", "running"),
    "dash": ("dashes forward", "dashing forward"),
    "walk-back": ("walks backward", "walking backward"),
    "walk-left": ("walks to the left", "walking to the left"),
    "walk-right": ("walks to the right", "walking to the right"),
    "bow": ("bows", "bowing"),
    "bye": ("waves goodbye", "waving goodbye"),
    "guide": ("guides someone with a hand gesture", "guiding someone with a hand gesture"),
    "byebye": ("waves bye-bye", "waving bye-bye"),
    "respond": ("responds to someone with a gesture", "responding to someone with a gesture"),
    "call": ("calls someone over", "calling someone over"),
    "punch": ("throws a punch", "throwing a punch"),
    "kick": ("kicks", "kicking"),
    "slash": ("slashes with a sword", "slashing with a sword"),
    "dance-long": ("dances", "dancing"),
    "dance-short": ("dances briefly", "dancing briefly"),
}

#: Style label -> (adverb phrase, adjective, manner phrase); "normal" has no style words.
_BANDAI_STYLE: dict[str, tuple[str, str, str]] = {
    "normal": ("", "", "normally"),
    "happy": ("happily", "happy", "in a cheerful way"),
    "sad": ("sadly", "sad", "in a gloomy way"),
    "angry": ("angrily", "angry", "in a furious way"),
    "proud": ("proudly", "proud", "with a proud posture"),
    "not-confident": ("timidly", "timid", "without confidence"),
    "masculinity": ("in a masculine way", "masculine", "with a manly attitude"),
    "feminine": ("in a feminine way", "feminine", "with a graceful, feminine attitude"),
    "childish": ("childishly", "childish", "like a child"),
    "old": ("like an old person", "old", "in an elderly way"),
    "tired": ("wearily", "tired", "as if exhausted"),
    "active": ("energetically", "energetic", "in a lively way"),
    "musical": ("theatrically", "theatrical", "like in a musical"),
    "giant": ("heavily", "giant", "like a giant"),
    "chimpira": ("like a thug", "thuggish", "with a swaggering, thuggish attitude"),
}


def _label_key(label: str) -> str:
    """``"dataset-1_walk-back"`` -> ``"walk-back"`` (the dataset prefix dropped)."""
    return label.strip().split("_", 1)[-1].lower()


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def bandai_captions(content: str, style: str) -> list[str]:
    """Three paraphrased captions of a Bandai content label and style label.

    ``bandai_captions("walk", "happy")`` -> ``["a person walks happily.", "someone walks in a
    cheerful way.", "a happy person is walking."]``. Labels may carry the dataset prefix
    (``dataset-1_walk``); unknown labels get generic wording from their words.
    """
    content, style = _label_key(content), _label_key(style)
    words = content.replace("-", " ")
    verb, gerund = _BANDAI_CONTENT.get(
        content, (f"performs a {words} motion", f"performing a {words} motion")
    )
    if style in _BANDAI_STYLE:
        adverb, adjective, manner = _BANDAI_STYLE[style]
    else:
        style_words = style.replace("-", " ")
        adverb, adjective, manner = (
            f"in a {style_words} style",
            "",
            f"in a {style_words} manner",
        )
    first = f"a person {verb} {adverb}." if adverb else f"a person {verb}."
    second = f"someone {verb} {manner}."
    if adjective:
        third = f"{_article(adjective)} {adjective} person is {gerund}."
    else:
        third = f"a person is {gerund}" + (f" {adverb}." if adverb else ".")
    return [first, second, third]


def _find_cfg(folder: Path) -> Path | None:
    for candidate in (folder / "cfg", folder.parent / "cfg"):
        if (candidate / "content_label.txt").is_file() and (
            candidate / "style_label.txt"
        ).is_file():
            return candidate
    return None


class BandaiCaptions:
    """Captions of Bandai clips from ``<clip>.json`` and the label files in ``cfg/``."""

    def __init__(self, cfg: Path) -> None:
        cfg = Path(cfg)
        self.contents = self._labels(cfg / "content_label.txt")
        self.styles = self._labels(cfg / "style_label.txt")

    @staticmethod
    def _labels(path: Path) -> list[str]:
        try:
            return [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise DatasetError(f"cannot read label file {path}: {exc.strerror or exc}") from None

    def __call__(self, bvh: Path) -> list[str]:
        meta = Path(bvh).with_suffix(".json")
        if not meta.is_file():
            return []
        try:
            labels = json.loads(meta.read_text())
            content = self.contents[int(labels["content"])]
            style = self.styles[int(labels["style"])]
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise DatasetError(
                f'{meta}: expected {{"content": i, "style": j}} indexing the cfg label '
                f"files ({type(exc).__name__}: {exc})"
            ) from None
        return bandai_captions(content, style)


# --------------------------------------------------------------------------------------------
# CMU (labels.tsv)
# --------------------------------------------------------------------------------------------

# fmt: off
_VERBS = frozenset({
    "walk", "run", "jog", "jump", "hop", "skip", "leap", "dance", "kick", "punch", "throw",
    "catch", "wave", "turn", "sit", "stand", "climb", "crawl", "march", "start", "stop",
    "stretch", "bend", "squat", "lift", "swing", "spin", "box", "step", "stumble", "limp", "lean",
    "reach", "pick", "push", "pull", "carry", "roll", "fall", "get", "play", "swim", "shuffle",
    "sneak", "tiptoe", "stride", "strut", "skate", "slide", "balance", "bounce", "twist", "rotate"
})
# fmt: on


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def cmu_sentence(description: str) -> str:
    """A short caption from a CMU trial description.

    ``"walk"`` -> ``"a person walks."``; ``"Start Walk Stop"`` -> ``"a person starts, walks and
    stops."``; ``"dance - cartwheel-like start, pirouettes"`` -> ``"a person dances:
    cartwheel-like start, pirouettes."``; anything else -> ``"a person performs <description>."``
    """
    main, _, details = description.strip().partition(" - ")
    words = [w for w in re.split(r"\s+", main.strip().lower()) if w]
    if not words:
        return "a person moves."
    if all(w in _VERBS for w in words):
        verbs = [_third_person(w) for w in words]
        phrase = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    elif words[0] in _VERBS:
        phrase = " ".join([_third_person(words[0]), *words[1:]])
    else:
        phrase = "performs " + " ".join(words)
    details = details.strip().rstrip(".")
    return f"a person {phrase}" + (f": {details}." if details else ".")


class CMUCaptions:
    """Captions of CMU trials from a ``labels.tsv`` (columns ``trial``, ``kitml_text...``,
    ``cmu_index_description``; ``-`` or empty means missing)."""

    def __init__(self, labels: Path) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        try:
            with open(labels, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle, delimiter="\t")
                for row in reader:
                    trial = (row.get("trial") or Path(row.get("file") or "").stem).strip()
                    if trial:
                        self.rows[trial] = {k: (v or "").strip() for k, v in row.items() if k}
        except OSError as exc:
            raise DatasetError(f"cannot read {labels}: {exc.strerror or exc}") from None
        except csv.Error as exc:
            raise DatasetError(f"{labels} is not a valid tab-separated file: {exc}") from None

    @staticmethod
    def _column(row: dict[str, str], prefix: str) -> str:
        for key, value in row.items():
            if key.lower().startswith(prefix) and value not in ("", "-"):
                return value
        return ""

    def __call__(self, bvh: Path) -> list[str]:
        row = self.rows.get(Path(bvh).stem)
        if row is None:
            return []
        text = self._column(row, "kitml_text")
        if text:  # drop the provenance note: "A person is dancing (KIT-ML 02282, ...)"
            text = re.sub(r"\s*\((?:KIT-ML|KIT)[^)]*\)\s*$", "", text).strip()
            return [text] if text else []
        description = self._column(row, "cmu_index_description") or self._column(row, "description")
        return [cmu_sentence(description)] if description else []


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------


#: BVH files converted together: their joints go through one batched feature extraction.
PREPARE_BATCH = 64


def _bvh_to_joints(path: Path, joint_map: object | None, fps: float, min_frames: int) -> np.ndarray:
    """Joints ``(T, 22, 3)`` float32 of one BVH file, retargeted to SMPL22 at ``fps``."""
    from motionkit.motion.bvh import read_bvh
    from motionkit.motion.retarget import detect_skeleton, get_joint_map, retarget

    motion = read_bvh(path)
    chosen = joint_map
    if chosen is None:
        guess = detect_skeleton(motion)
        if guess is None:
            raise MotionkitError(
                "unknown skeleton (not cmu or bandai); pass --skeleton with a TOML joint map"
            )
        chosen = get_joint_map(guess)
    joints = retarget(motion, chosen, fps=fps)
    if len(joints) < min_frames:
        raise MotionkitError(
            f"too short: {len(joints)} frames at {fps:g} fps "
            f"({motion.duration:.2f} s); at least {min_frames} needed"
        )
    return joints.astype(np.float32)


def _features_of(joints: dict[Path, np.ndarray]) -> dict[Path, np.ndarray | Exception]:
    """Features of every clip, batched; when the batch refuses a clip, each clip on its own."""
    from motionkit.motion.features import extract_features, extract_features_many

    paths = list(joints)
    try:
        return dict(zip(paths, extract_features_many([joints[p] for p in paths]), strict=True))
    except Exception:  # find which clip: each one alone, its own error
        results: dict[Path, np.ndarray | Exception] = {}
        for path in paths:
            try:
                results[path] = extract_features(joints[path])
            except Exception as exc:
                results[path] = exc
        return results


def detect_captions(src: Path) -> CaptionSource:
    """The caption source for a folder: Bandai (``cfg/`` label files and ``*.json`` next to the
    BVH files), CMU (a ``labels.tsv``), else file names."""
    src = Path(src)
    cfg = _find_cfg(src)
    if cfg is not None and any(p.with_suffix(".json").is_file() for p in src.rglob("*.bvh")):
        return BandaiCaptions(cfg)
    for labels in (src / "labels.tsv", src.parent / "labels.tsv"):
        if labels.is_file():
            return CMUCaptions(labels)
    return FileNameCaptions()


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


@dataclass
class PrepareReport:
    """What ``prepare_bvh_folder`` wrote and skipped.

    Attributes:
        out: the dataset folder.
        converted: clip ids written.
        skipped: ``(file, reason)`` for each BVH file that was not converted.
        frames: feature frames written (rows of ``new_joint_vecs``; a clip of ``T`` poses has
            ``T - 1``).
        seconds: seconds of motion converted (``frames / fps``).
        fps: frame rate of the dataset.
        splits: clip count per split.
        notes: anything else worth telling (e.g. statistics not written).
        elapsed: wall-clock seconds of the conversion.
    """

    out: Path
    converted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    fps: float = 20.0
    splits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> str:
        """A few lines for people: counts, duration, splits and every skipped file's reason."""
        split_text = ", ".join(f"{k} {v}" for k, v in self.splits.items())
        lines = [
            f"converted {len(self.converted)} clips ({self.frames} frames, "
            f"{self.seconds / 60:.1f} min at {self.fps:g} fps) to {self.out} in "
            f"{self.elapsed:.1f} s" + (f"; splits: {split_text}" if split_text else "")
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} files:")
            lines += [f"  {name}: {reason}" for name, reason in self.skipped]
        lines += self.notes
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __rich__(self) -> object:
        from rich.text import Text

        return Text(self.summary())


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MotionkitError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _clip_id(path: Path, src: Path, taken: set[str]) -> str:
    clip_id = sanitize_id(path.stem)
    if clip_id in taken:
        clip_id = sanitize_id(str(path.relative_to(src).with_suffix("")).replace("/", "_"))
    base, k = clip_id, 2
    while clip_id in taken:
        clip_id, k = f"{base}_{k}", k + 1
    taken.add(clip_id)
    return clip_id


def bvh_files(src: Path) -> list[Path]:
    """Every ``.bvh`` file under ``src`` (any letter case), sorted."""
    return sorted(p for p in Path(src).rglob("*") if p.suffix.lower() == ".bvh" and p.is_file())


def prepare_bvh_folder(
    src: str | Path,
    out: str | Path,
    skeleton: str | Path | JointMap,
    *,
    captions: CaptionSource | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
    fps: float | None = None,
    min_frames: int = MIN_FRAMES,
) -> PrepareReport:
    """Convert every ``*.bvh`` under ``src`` into a HumanML3D-layout dataset in ``out``.

    Args:
        src: folder searched recursively for ``*.bvh`` (any case).
        out: dataset folder (created; existing clip files with the same ids are replaced).
        skeleton: a ``JointMap``, a built-in map name (``cmu``,
            ``bandai``), the path of a TOML joint map, or ``"auto"`` (detect per file).
        captions: caption source; ``None`` detects it from the folder (``detect_captions``).
            Files it has nothing for are captioned from their file name.
        val_fraction: share of the val split.
        test_fraction: share of the test split.
        seed: seed of the deterministic split (ids sorted, then shuffled).
        progress: called with ``1`` after each file (e.g. a progress bar's ``advance``).
        fps: frame rate of the dataset (default ``SMPL22.fps``, 20).
        min_frames: clips with fewer frames at ``fps`` are skipped.

    Returns:
        A ``PrepareReport``; files that fail (unreadable BVH, missing joints, too short,
        non-finite features) are listed in ``skipped`` with their reason.

    Raises:
        MotionkitError: no BVH file under ``src``, an unknown skeleton, or nothing converted.
    """
    from motionkit.motion.retarget import get_joint_map
    from motionkit.motion.skeleton import SMPL22

    start = time.perf_counter()
    src, out = Path(src), Path(out)
    fps = float(SMPL22.fps if fps is None else fps)
    if not src.is_dir():
        raise DatasetError(f"{src} is not a folder of BVH files")
    files = bvh_files(src)
    if not files:
        raise DatasetError(f"no .bvh files under {src}")
    auto = isinstance(skeleton, str) and skeleton.strip().lower() == "auto"
    joint_map = None if auto else get_joint_map(skeleton)
    source = captions if captions is not None else detect_captions(src)
    fallback = FileNameCaptions()

    report = PrepareReport(out=out, fps=fps)
    taken: set[str] = set()
    for first in range(0, len(files), PREPARE_BATCH):
        chunk = files[first : first + PREPARE_BATCH]
        joints: dict[Path, np.ndarray] = {}
        failed: dict[Path, str] = {}
        for path in chunk:  # read and retarget one file at a time: a bad file is its own error
            try:
                joints[path] = _bvh_to_joints(path, joint_map, fps, min_frames)
            except Exception as exc:  # one bad file never stops the folder; reported at the end
                failed[path] = _reason(exc)
            if progress is not None:  # reading and retargeting is most of the work
                progress(1)
        features = _features_of(joints)
        for path in chunk:  # write in file order, so clip ids and splits do not depend on batching
            name = str(path.relative_to(src))
            try:
                if path in failed:
                    raise MotionkitError(failed[path])
                feats = features[path]
                if isinstance(feats, Exception):
                    raise feats
                if not np.isfinite(feats).all():
                    raise MotionkitError(
                        "feature extraction gave NaN/inf values (degenerate pose?)"
                    )
                texts = [t for t in source(path) if t.strip()] or fallback(path)
                clip_id = _clip_id(path, src, taken)
                write_clip(out, clip_id, feats, captions=texts)
            except Exception as exc:
                report.skipped.append((name, _reason(exc)))
            else:
                report.converted.append(clip_id)
                report.frames += int(feats.shape[0])
    report.seconds = report.frames / fps
    if not report.converted:
        first = "; ".join(f"{n}: {r}" for n, r in report.skipped[:3])
        raise DatasetError(f"no BVH file under {src} could be converted ({first})")
    splits = split_ids(
        report.converted, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    write_splits(out, splits)
    report.splits = {k: len(v) for k, v in splits.items()}
    if splits["train"]:
        write_stats(out, "train")
    else:
        report.notes.append("no clip in the train split: Mean.npy/Std.npy not written")
    report.elapsed = time.perf_counter() - start
    return report
