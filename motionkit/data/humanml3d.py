"""Readers of the HumanML3D folder layout: the ``humanml3d`` and ``kit`` datasets.

Follows the official loader's rules (Guo et al. 2022, HumanML3D / KIT-ML):

* clip ids come from ``<split>.txt``; ``M``-prefixed ids are the mirrored copies of their clip;
* a caption with a ``#start#end`` span (not ``0.0#0.0``) describes
  ``motion[int(start * fps):int(end * fps)]``, which becomes a sub-clip of its own;
* clips and sub-clips with fewer than ``min_len`` or at least ``max_len`` frames are dropped
  (HumanML3D: 40 and 200; KIT-ML: 24 and 200).

Missing or unreadable files are counted, reported once (one warning), and skipped. Any folder in
this layout reads, including what ``motionkit data synth`` and ``motionkit data prepare-bvh``
write. Features stay raw; ``MotionDataset.normalize`` applies ``Mean.npy``/``Std.npy``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from motionkit.config.fields import option
from motionkit.data import layout
from motionkit.data.captions import Caption, parse_line
from motionkit.data.layout import DatasetError
from motionkit.errors import MotionkitWarning
from motionkit.registry import datasets


@dataclass(frozen=True)
class MotionClip:
    """One training item: raw features and the captions that describe exactly these frames.

    Attributes:
        id: unique id; a sub-clip is ``"<source_id>@<start>-<end>"`` (seconds).
        source_id: the file stem the frames come from.
        features: ``(T, D)`` raw (unnormalised) features.
        captions: captions of these frames (may be empty when the text file is missing).
        mirrored: whether ``source_id`` is an ``M``-prefixed mirrored copy.
    """

    id: str
    source_id: str
    features: np.ndarray = field(repr=False)
    captions: tuple[Caption, ...]
    mirrored: bool

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])


@dataclass
class ReadReport:
    """What a reader skipped and why (reported once as a warning)."""

    listed: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    without_text: int = 0

    def skip(self, reason: str, example: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, example)

    def summary(self) -> str:
        parts = [
            f"{count} {reason} (e.g. {self.examples[reason]})"
            for reason, count in self.skipped.most_common()
        ]
        return f"skipped {sum(self.skipped.values())} of {self.listed} listed clips: " + "; ".join(
            parts
        )


class MotionDataset:
    """Clips of one split of a HumanML3D-layout folder, with its normalisation statistics.

    Attributes:
        root: the dataset folder.
        split: split name (``train``, ``val``, ``test``, ``all``, ...).
        fps: frames per second of the features.
        clips: the kept clips and sub-clips.
        mean: ``(D,)`` ``Mean.npy`` of the folder, or ``None`` if absent.
        std: ``(D,)`` ``Std.npy`` of the folder, or ``None`` if absent.
        report: what was skipped.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        fps: float,
        clips: list[MotionClip],
        report: ReadReport,
    ) -> None:
        self.root, self.split, self.fps, self.clips, self.report = root, split, fps, clips, report
        self.mean = self._stat(layout.MEAN_FILE)
        self.std = self._stat(layout.STD_FILE)

    def _stat(self, name: str) -> np.ndarray | None:
        path = self.root / name
        if not path.is_file():
            return None
        stat = layout.load_npy(path).astype(np.float32)
        if self.clips and stat.shape != (self.feature_dim,):
            raise DatasetError(
                f"{path} has shape {stat.shape}, expected ({self.feature_dim},) like the features"
            )
        return stat

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> MotionClip:
        return self.clips[index]

    def __repr__(self) -> str:
        return f"MotionDataset({str(self.root)!r}, split={self.split!r}, clips={len(self)})"

    @property
    def feature_dim(self) -> int:
        return int(self.clips[0].features.shape[1]) if self.clips else 0

    @property
    def num_frames(self) -> int:
        return sum(c.num_frames for c in self.clips)

    def _require_stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise DatasetError(
                f"{self.root} has no Mean.npy/Std.npy; run 'motionkit data stats {self.root}'"
            )
        return self.mean, self.std

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """``(features - Mean) / Std``."""
        mean, std = self._require_stats()
        return (features - mean) / std

    def denormalize(self, features: np.ndarray) -> np.ndarray:
        """``features * Std + Mean``."""
        mean, std = self._require_stats()
        return features * std + mean


def read_captions(path: Path) -> list[Caption]:
    """All caption lines of a text file (blank lines ignored)."""
    text = path.read_text(encoding="utf-8")
    return [
        parse_line(line, f"{path}:{n}")
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def read_folder(
    root: str | Path,
    split: str = "train",
    *,
    fps: float = 20.0,
    min_len: int = 40,
    max_len: int = 200,
    require_text: bool = False,
    limit: int = 0,
    include_mirrors: bool = False,
) -> MotionDataset:
    """Read one split of a HumanML3D-layout folder (see the module docstring for the rules).

    ``split="all"`` without an ``all.txt`` lists every clip in ``new_joint_vecs/``. ``limit``
    keeps only the first ``limit`` listed ids (0 keeps all). ``include_mirrors`` adds the
    ``M``-prefixed copy of every listed clip that has one in the folder but not in the list.
    """
    root = Path(root)
    if not (root / layout.FEATURES_DIR).is_dir():
        raise DatasetError(
            f"{root} is not a HumanML3D-layout folder (no {layout.FEATURES_DIR}/); create one "
            "with 'motionkit data synth' or 'motionkit data prepare-bvh'"
        )
    if split == "all" and not (root / "all.txt").is_file():
        ids = sorted(p.stem for p in (root / layout.FEATURES_DIR).glob("*.npy"))
    else:
        ids = layout.read_split(root, split)
    if limit:
        ids = ids[:limit]
    if include_mirrors:
        listed = set(ids)
        ids = ids + [
            f"M{i}"
            for i in ids
            if f"M{i}" not in listed and (root / layout.FEATURES_DIR / f"M{i}.npy").is_file()
        ]
    report = ReadReport(listed=len(ids))
    clips: list[MotionClip] = []
    dim = None
    for clip_id in ids:
        path = root / layout.FEATURES_DIR / f"{clip_id}.npy"
        if not path.is_file():
            report.skip("missing feature files", clip_id)
            continue
        try:
            features = layout.load_npy(path)
        except DatasetError:
            report.skip("unreadable feature files", clip_id)
            continue
        if features.ndim != 2 or (dim is not None and features.shape[1] != dim):
            report.skip("feature files of the wrong shape", f"{clip_id} {features.shape}")
            continue
        if not np.isfinite(features).all():
            report.skip("feature files with NaN or inf", clip_id)
            continue
        dim = features.shape[1]
        text_path = root / layout.TEXTS_DIR / f"{clip_id}.txt"
        captions: list[Caption] = []
        if text_path.is_file():
            try:
                captions = read_captions(text_path)
            except (ValueError, UnicodeDecodeError):
                report.skip("unreadable text files", clip_id)
                continue
        if not captions:
            if require_text:
                report.skip("clips without captions", clip_id)
                continue
            report.without_text += 1
        mirrored = clip_id.startswith("M") and len(clip_id) > 1
        before = len(clips)
        clips += _split_clip(clip_id, features, captions, mirrored, fps, min_len, max_len)
        if len(clips) == before:
            report.skip(f"clips outside {min_len} <= frames < {max_len}", clip_id)
    if report.skipped:
        warnings.warn(f"{root} [{split}]: {report.summary()}", MotionkitWarning, stacklevel=2)
    return MotionDataset(root, split, fps, clips, report)


def _split_clip(
    clip_id: str,
    features: np.ndarray,
    captions: list[Caption],
    mirrored: bool,
    fps: float,
    min_len: int,
    max_len: int,
) -> list[MotionClip]:
    """The clip itself (whole-clip captions) plus one sub-clip per distinct caption span."""

    def keep(frames: np.ndarray) -> bool:
        return min_len <= len(frames) < max_len

    whole = tuple(c for c in captions if c.whole_clip)
    spans: dict[tuple[float, float], list[Caption]] = {}
    for caption in captions:
        if not caption.whole_clip:
            spans.setdefault((caption.start, caption.end), []).append(caption)
    out = []
    if (whole or not captions) and keep(features):
        out.append(MotionClip(clip_id, clip_id, features, whole, mirrored))
    for (start, end), group in spans.items():
        frames = features[int(start * fps) : int(end * fps)]
        if keep(frames):
            sub_id = f"{clip_id}@{start:g}-{end:g}"
            out.append(MotionClip(sub_id, clip_id, frames, tuple(group), mirrored))
    return out


@dataclass(frozen=True)
class _FolderConfig:
    """Fields shared by the readers of HumanML3D-layout folders."""

    root: str = option("data/HumanML3D", help="dataset folder in the HumanML3D layout")
    split: str = option("train", help="split file to read (train, val, test, all)")
    min_len: int = option(40, help="drop clips with fewer frames than this")
    max_len: int = option(200, help="drop clips with at least this many frames")
    require_text: bool = option(False, help="drop clips that have no caption")
    limit: int = option(0, help="read only the first N listed clips (0: all)")

    FPS: ClassVar[float] = 20.0
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"limit": 32}}

    def __post_init__(self) -> None:
        if self.min_len < 1 or self.max_len <= self.min_len:
            raise ValueError(f"need 1 <= min_len < max_len, got {self.min_len}, {self.max_len}")
        if self.limit < 0:
            raise ValueError(f"limit must not be negative, got {self.limit}")

    @property
    def folder(self) -> Path:
        """The dataset's folder."""
        return Path(self.root)

    def prepare(self) -> Path:
        """Make sure the folder exists (the synthetic corpus is generated) and return it."""
        return self.folder

    def build(self) -> MotionDataset:
        """Read the split."""
        return self.read()

    def read(
        self,
        split: str | None = None,
        *,
        require_text: bool | None = None,
        include_mirrors: bool = False,
    ) -> MotionDataset:
        """Read ``split`` (default: the configured one) under this config's length filter and
        limit; ``require_text`` defaults to the configured value."""
        return read_folder(
            self.prepare(),
            split or self.split,
            fps=self.FPS,
            min_len=self.min_len,
            max_len=self.max_len,
            require_text=self.require_text if require_text is None else require_text,
            limit=self.limit,
            include_mirrors=include_mirrors,
        )


@datasets.register("humanml3d")
@dataclass(frozen=True)
class HumanML3DConfig(_FolderConfig):
    """HumanML3D (or any folder in its layout): 22 joints, 263-d features, 20 fps."""


@datasets.register("kit")
@dataclass(frozen=True)
class KITConfig(_FolderConfig):
    """KIT-ML in the HumanML3D layout: 21 joints, 251-d features, 12.5 fps."""

    root: str = option("data/KIT-ML", help="dataset folder in the HumanML3D layout")
    min_len: int = option(24, help="drop clips with fewer frames than this")

    FPS: ClassVar[float] = 12.5


@datasets.register("synthetic")
@dataclass(frozen=True)
class SyntheticConfig(_FolderConfig):
    """Procedurally generated motions with captions (generated on first use, then read)."""

    root: str = option("", help="corpus folder (empty: data/synthetic-n<num>-s<seed>)")
    num: int = option(2000, help="number of generated clips")
    seed: int = option(0, help="generator seed (the same num and seed give identical files)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"num": 64}}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num < 1:
            raise ValueError(f"num must be at least 1, got {self.num}")

    @property
    def folder(self) -> Path:
        return Path(self.root or f"data/synthetic-n{self.num}-s{self.seed}")

    def prepare(self) -> Path:
        """Generate the corpus into ``folder`` unless it is already there; return the folder."""
        ensure_synthetic_corpus(self.folder, self.num, self.seed)
        return self.folder

    def build(self) -> MotionDataset:
        """Generate the corpus into ``folder`` unless it is already there, then read it."""
        return self.read()


def ensure_synthetic_corpus(root: Path, num: int, seed: int) -> None:
    """Generate the synthetic corpus into ``root`` unless the same (num, seed) is already there.

    Raises:
        DatasetError: ``root`` holds something else (another corpus, or other files).
    """
    manifest = root / "synthetic.json"
    if manifest.is_file():
        import json

        try:
            info = json.loads(manifest.read_text())
        except ValueError:
            raise DatasetError(
                f"{manifest} is not valid JSON; delete {root} to regenerate"
            ) from None
        if info.get("num") == num and info.get("seed") == seed:
            return
        raise DatasetError(
            f"{root} holds a synthetic corpus with num={info.get('num')}, seed={info.get('seed')}; "
            "choose another root or delete it"
        )
    if root.exists() and any(root.iterdir()):
        raise DatasetError(f"{root} exists and is not a synthetic corpus; choose another root")
    from motionkit.data.synthetic import generate_corpus

    generate_corpus(root, num, seed)
