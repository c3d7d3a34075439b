"""The HumanML3D folder layout, written by every converter and read by every dataset reader.

```
ROOT/
  new_joint_vecs/<id>.npy   (T, D) features: D = 263 for the 22-joint skeleton, 251 for KIT
  new_joints/<id>.npy       (T, J, 3) joints in the features' canonical frame (recovered)
  texts/<id>.txt            one caption per line: caption#word/POS ...#start#end
  train.txt val.txt test.txt all.txt    clip ids, one per line
  Mean.npy Std.npy          (D,) statistics of the train split (Std averaged per feature group)
```

As in HumanML3D (Guo et al. 2022), ``new_joints`` holds the joints recovered from the features,
so it has the features' frame count (one fewer than the source motion). All files are written
atomically: an interrupted conversion never leaves a half-written clip.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from motionkit.data.captions import Caption
from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_bytes, atomic_write_text

FEATURES_DIR = "new_joint_vecs"
JOINTS_DIR = "new_joints"
TEXTS_DIR = "texts"
MEAN_FILE = "Mean.npy"
STD_FILE = "Std.npy"
SPLITS = ("train", "val", "test")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class DatasetError(MotionkitError):
    """A dataset folder or file is missing, malformed or inconsistent."""


def check_clip_id(clip_id: str) -> str:
    """Clip ids become file names: letters, digits, ``_ . -``; no path separators."""
    if not _ID.match(clip_id):
        raise DatasetError(
            f"clip id {clip_id!r} is not a valid file name; use letters, digits, '_', '.', '-'"
        )
    return clip_id


def sanitize_id(name: str) -> str:
    """A clip id made from any name (a file stem): other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("._-")
    return cleaned or "clip"


def save_npy(path: Path, array: np.ndarray) -> None:
    """Atomically write ``array`` as a ``.npy`` file (never pickled)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def load_npy(path: Path) -> np.ndarray:
    """Read a ``.npy`` file without unpickling; one-line errors for corrupt files."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path} not found") from None
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path} is not a readable .npy array ({reason})") from None


def write_clip(
    root: str | Path,
    clip_id: str,
    features: np.ndarray,
    captions: Iterable[str | Caption],
    joints: np.ndarray | None = None,
) -> None:
    """Write one clip: features, joints and captions.

    Args:
        root: dataset folder (created if needed).
        clip_id: file stem (see ``check_clip_id``).
        features: ``(T, D)`` finite features.
        captions: caption strings (whole clip) or ``Caption`` objects (with spans).
        joints: ``(T, J, 3)`` joints in the features' frame; default: recovered from the features
            with ``recover_from_ric`` (what HumanML3D ships).
    """
    root = Path(root)
    check_clip_id(clip_id)
    features = np.asarray(features)
    if features.ndim != 2 or not np.isfinite(features).all():
        raise DatasetError(f"clip {clip_id}: features must be a finite (T, D) array")
    if joints is None:
        from motionkit.motion.features import recover_from_ric
        from motionkit.motion.skeleton import skeleton_for_feature_dim

        joints = recover_from_ric(features, skeleton_for_feature_dim(features.shape[-1]))
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[0] != features.shape[0] or joints.shape[2] != 3:
        raise DatasetError(
            f"clip {clip_id}: joints must be (T, J, 3) with T = {features.shape[0]} "
            f"(the features' frame count), got {joints.shape}"
        )
    lines = [c.to_line() if isinstance(c, Caption) else Caption(c).to_line() for c in captions]
    save_npy(root / FEATURES_DIR / f"{clip_id}.npy", features)
    save_npy(root / JOINTS_DIR / f"{clip_id}.npy", joints)
    atomic_write_text(root / TEXTS_DIR / f"{clip_id}.txt", "\n".join(lines) + "\n")


def write_splits(root: str | Path, splits: Mapping[str, Iterable[str]]) -> None:
    """Write ``<name>.txt`` per split and ``all.txt`` (the union, unless given)."""
    root = Path(root)
    everything: list[str] = []
    for name, ids in splits.items():
        ids = [check_clip_id(i) for i in ids]
        atomic_write_text(root / f"{name}.txt", "".join(f"{i}\n" for i in ids))
        everything += [i for i in ids if i not in everything]
    if "all" not in splits:
        atomic_write_text(root / "all.txt", "".join(f"{i}\n" for i in everything))


def split_ids(
    ids: Iterable[str], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[str]]:
    """Deterministic random train/val/test split of ``ids`` (sorted first, then shuffled)."""
    ids = sorted(ids)
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DatasetError("val and test fractions must be in [0, 1) and sum to less than 1")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = round(len(ids) * val_fraction)
    n_test = round(len(ids) * test_fraction)
    if len(ids) >= 3:  # every split gets a clip when it is asked for one
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
    shuffled = [ids[i] for i in order]
    return {
        "train": sorted(shuffled[n_val + n_test :]),
        "val": sorted(shuffled[:n_val]),
        "test": sorted(shuffled[n_val : n_val + n_test]),
    }


def read_split(root: str | Path, split: str) -> list[str]:
    """Clip ids of ``root/<split>.txt`` (blank lines ignored)."""
    path = Path(root) / f"{split}.txt"
    if not path.is_file():
        available = sorted(p.stem for p in Path(root).glob("*.txt"))
        raise DatasetError(
            f"no split file {path}; available splits: {', '.join(available) or 'none'}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(
            f"{path} is not UTF-8 text; it should list one clip id per line"
        ) from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_stats(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Compute ``Mean.npy``/``Std.npy`` over every frame of the clips of ``split``; save them.

    The standard deviation is averaged within each feature group (as HumanML3D does), so that
    e.g. all root-relative positions share one scale.
    """
    from motionkit.data.stats import feature_stats

    root = Path(root)
    arrays = []
    for clip_id in read_split(root, split):
        path = root / FEATURES_DIR / f"{clip_id}.npy"
        if path.is_file():
            array = load_npy(path)
            if array.ndim != 2 or (arrays and array.shape[1] != arrays[0].shape[1]):
                expected = f"(T, {arrays[0].shape[1]})" if arrays else "(T, D)"
                raise DatasetError(
                    f"{path} has shape {array.shape}, expected {expected} like the clips before "
                    "it; every clip of a dataset needs the same feature layout"
                )
            if not np.isfinite(array).all():
                raise DatasetError(f"{path} contains NaN or inf values; fix or remove the clip")
            arrays.append(array)
    if not arrays:
        raise DatasetError(f"split {split!r} of {root} has no readable clips to compute stats")
    mean, std = feature_stats(arrays)
    save_npy(root / MEAN_FILE, mean)
    save_npy(root / STD_FILE, std)
    return mean, std
