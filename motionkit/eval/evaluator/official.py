"""Loading the official evaluator files from a local folder, without executing code from them.

Nothing is downloaded: point motionkit at the files of the text-to-motion release (Guo et al.
2022) that you already have. Expected official layout (``<dir>`` is e.g. ``checkpoints/t2m`` or
``checkpoints/kit``)::

    <dir>/text_mot_match/model/finest.tar   torch checkpoint: {"movement_encoder", "text_encoder",
                                            "motion_encoder": state dicts, "epoch", ...}
                                            (``<dir>/model/finest.tar``, ``<dir>/finest.tar`` or
                                            the file itself also work)
    <dir>/glove/our_vab_data.npy            (N, 300) GloVe vectors
    <dir>/glove/our_vab_words.pkl           pickled list of the vocabulary words
    <dir>/glove/our_vab_idx.pkl             pickled dict word -> row of our_vab_data.npy
    optional evaluator normalisation stats, first found of:
    <dir>/meta/{mean,std}.npy, <dir>/text_mot_match/meta/{mean,std}.npy,
    <dir>/{t2m,kit}_{mean,std}.npy, <dir>/stats/{t2m,kit}_{mean,std}.npy

``glove`` is looked for in ``<dir>`` and then in up to three folders above it (the official
repositories keep ``glove/`` at their root, next to ``checkpoints/``); pass ``glove=`` to say where.
The stats may be passed as ``mean=``/``std=`` (paths to ``.npy`` or arrays).

Safety: the checkpoint is read with ``torch.load(weights_only=True)`` (tensors and plain data
only); the two GloVe pickles with an unpickler that resolves no globals at all
(``safe_pickle.PlainDataUnpickler``); ``.npy`` files with ``allow_pickle=False``.

``convert_official`` writes the same content once as safetensors + JSON, so that later loads
read no pickle at all::

    <out>/evaluator.json      metadata: dataset, feature dim, widths, source, epoch and the
                              evaluator mean/std (when found or given)
    <out>/weights.safetensors ``movement_encoder.* text_encoder.* motion_encoder.*``
    <out>/glove.safetensors   ``vectors`` (N, 300)
    <out>/words.json          word -> row of ``vectors``

``load_evaluator`` accepts either layout (or the checkpoint file itself).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as np_load_safetensors
from safetensors.numpy import save as np_save_safetensors
from safetensors.torch import load as torch_load_safetensors
from safetensors.torch import save as torch_save_safetensors

from motionkit.errors import MotionkitError
from motionkit.eval.evaluator.networks import (
    MAX_MOTION_LENGTH,
    UNIT_LENGTH,
    EvaluatorDims,
    EvaluatorNetworks,
)
from motionkit.eval.evaluator.safe_pickle import load_plain_pickle
from motionkit.eval.evaluator.words import MAX_WORDS, CaptionBatch, WordVectorizer
from motionkit.io import atomic_write_bytes, atomic_write_text
from motionkit.motion.skeleton import KIT21, SMPL22

__all__ = [
    "CHECKPOINT_PATHS",
    "GLOVE_FILES",
    "OfficialEvaluator",
    "convert_official",
    "load_evaluator",
    "read_glove",
    "read_official_checkpoint",
]

#: Where the checkpoint may sit inside the folder given, first found wins.
CHECKPOINT_PATHS = ("text_mot_match/model/finest.tar", "model/finest.tar", "finest.tar")
#: The GloVe files inside ``glove/``: vectors, word list, word index.
GLOVE_FILES = ("our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl")
MODULES = ("movement_encoder", "text_encoder", "motion_encoder")
#: Converted layout.
META_FILE, WEIGHTS_FILE, GLOVE_FILE, WORDS_FILE = (
    "evaluator.json", "weights.safetensors", "glove.safetensors", "words.json",
)  # fmt: skip
FORMAT = "motionkit.official-evaluator"
FORMAT_VERSION = 1
#: Official dataset names by feature width.
DATASETS = {SMPL22.feature_dim: ("humanml3d", "t2m"), KIT21.feature_dim: ("kit", "kit")}

_CONVERT_HINT = (
    "if you trust the file, keep only its weights once with "
    "python -c \"import torch; c = torch.load('finest.tar', map_location='cpu', "
    "weights_only=False); torch.save({k: c[k] for k in ('movement_encoder', 'text_encoder', "
    "'motion_encoder')}, 'finest_weights.tar')\" and load that"
)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())
    return line[:limit] if line else "no details"


def _torch_reason(exc: BaseException) -> str:
    """The informative lines of a ``torch.load(weights_only=True)`` refusal."""
    skip = ("weights only load failed", "check the documentation", "please file an issue")
    lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
    kept = [s for s in lines if not s.lower().startswith(skip)]
    return _one_line(" ".join(kept) or type(exc).__name__, 200)


def read_official_checkpoint(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], int | None]:
    """``(state dicts of the 3 networks, epoch)`` from an official ``finest.tar``."""
    path = Path(path)
    if not path.is_file():
        raise MotionkitError(f"evaluator checkpoint {path} not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise MotionkitError(
            f"torch.load(weights_only=True) refused {path} ({_torch_reason(exc)}): it is corrupt "
            f"or holds more than tensors and plain data; {_CONVERT_HINT}"
        ) from None
    except Exception as exc:  # garbage bytes can fail anywhere inside the unpickler
        raise MotionkitError(
            f"{path} is not a readable torch checkpoint ({type(exc).__name__}: "
            f"{_one_line(exc, 160)}); is it corrupt or truncated?"
        ) from None
    missing = [m for m in MODULES if not isinstance(checkpoint, dict) or m not in checkpoint]
    if missing:
        keys = sorted(map(str, checkpoint)) if isinstance(checkpoint, dict) else []
        raise MotionkitError(
            f"{path} is not a text_mot_match evaluator checkpoint: no {', '.join(missing)} "
            f"(it has {keys[:6] or type(checkpoint).__name__})"
        )
    for name in MODULES:
        if not isinstance(checkpoint[name], dict) or not all(
            isinstance(v, torch.Tensor) for v in checkpoint[name].values()
        ):
            raise MotionkitError(f"{path}: {name} is not a state dict of tensors")
    epoch = checkpoint.get("epoch")
    return {m: dict(checkpoint[m]) for m in MODULES}, epoch if isinstance(epoch, int) else None


def read_glove(glove_dir: Path) -> WordVectorizer:
    """The official GloVe files of ``glove_dir`` (``GLOVE_FILES``), read without pickled code."""
    glove_dir = Path(glove_dir)
    data_path, words_path, idx_path = (glove_dir / name for name in GLOVE_FILES)
    missing = [p.name for p in (data_path, words_path, idx_path) if not p.is_file()]
    if missing:
        raise MotionkitError(f"GloVe folder {glove_dir} lacks {', '.join(missing)}")
    vectors = _load_array(data_path, "GloVe vectors")
    words = load_plain_pickle(words_path, "GloVe word list")
    index = load_plain_pickle(idx_path, "GloVe word index")
    if not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
        raise MotionkitError(f"{words_path} must hold a list of words, got {type(words).__name__}")
    if not isinstance(index, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in index.items()
    ):
        raise MotionkitError(
            f"{idx_path} must hold a dict mapping words to integer rows, got "
            f"{type(index).__name__}"
            + (" with other keys or values" if isinstance(index, dict) else "")
        )
    absent = [w for w in words if w not in index]
    if absent:
        raise MotionkitError(f"{idx_path} has no row for {len(absent)} words, e.g. {absent[0]!r}")
    return WordVectorizer(vectors, {w: index[w] for w in words})


def _load_array(path: Path, what: str) -> np.ndarray:
    """A plain ``.npy`` array (never unpickled); unreadable files are one-line errors."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MotionkitError(f"{what} {path} not found") from None
    except (OSError, ValueError, EOFError) as exc:
        reason = "it holds pickled objects" if "pickle" in str(exc) else _one_line(exc, 160)
        raise MotionkitError(
            f"{what} {path} is not a plain .npy array ({reason}); is it corrupt?"
        ) from None
    if not isinstance(arr, np.ndarray):
        raise MotionkitError(f"{what} {path} is an .npz archive, not one .npy array")
    return arr


def _read_npy(value: str | Path | np.ndarray, what: str) -> np.ndarray:
    arr = value if isinstance(value, np.ndarray) else _load_array(Path(value), what)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
        raise MotionkitError(
            f"{what} must be a finite 1-D float array, got {arr.dtype} of shape {arr.shape}"
        )
    return arr


def _find_stats(folder: Path, feature_dim: int) -> tuple[Path, Path] | None:
    """The first ``(mean, std)`` pair of the documented places; only this dataset's names."""
    prefix = DATASETS.get(feature_dim, ("", "custom"))[1]
    candidates = [
        (folder / "meta" / "mean.npy", folder / "meta" / "std.npy"),
        (folder / "text_mot_match/meta/mean.npy", folder / "text_mot_match/meta/std.npy"),
        (folder / f"{prefix}_mean.npy", folder / f"{prefix}_std.npy"),
        (folder / "stats" / f"{prefix}_mean.npy", folder / "stats" / f"{prefix}_std.npy"),
    ]
    return next(((m, s) for m, s in candidates if m.is_file() and s.is_file()), None)


def _stats(
    mean: str | Path | np.ndarray | None,
    std: str | Path | np.ndarray | None,
    folder: Path | None,
    feature_dim: int,
) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Evaluator mean/std: given, else found in ``folder``; checked against ``feature_dim``."""
    if (mean is None) != (std is None):
        raise MotionkitError("pass both mean= and std= (the evaluator's normalisation), or neither")
    source: str | None = "given"
    if mean is None or std is None:
        found = _find_stats(folder, feature_dim) if folder is not None else None
        if found is None:
            return None, None, None
        mean, std = found
        source = str(found[0])
    mean_arr, std_arr = _read_npy(mean, "evaluator mean"), _read_npy(std, "evaluator std")
    for what, arr in (("mean", mean_arr), ("std", std_arr)):
        if arr.shape != (feature_dim,):
            raise MotionkitError(
                f"evaluator {what} is {arr.shape[0]}-d but the checkpoint scores {feature_dim}-d "
                "features: the stats belong to another dataset"
            )
    if (std_arr <= 0).any():
        raise MotionkitError("evaluator std has zero or negative entries")
    return mean_arr, std_arr, source


def _dataset(feature_dim: int) -> str:
    return DATASETS.get(feature_dim, ("custom", "custom"))[0]


@dataclass
class OfficialEvaluator:
    """The official evaluator: networks, GloVe vocabulary and (optionally) its mean/std.

    ``embed_text`` / ``embed_motion`` take tensors (see ``EvaluatorNetworks``);
    ``embed_captions`` takes ``word/POS`` token lists and ``embed_features`` raw feature arrays.
    All return ``(B, 512)`` float32 tensors in input order.
    """

    networks: EvaluatorNetworks
    words: WordVectorizer
    mean: np.ndarray | None
    std: np.ndarray | None
    source: str
    epoch: int | None = None

    @property
    def dims(self) -> EvaluatorDims:
        return self.networks.dims

    @property
    def feature_dim(self) -> int:
        return self.networks.dims.feature_dim

    @property
    def dataset(self) -> str:
        """``humanml3d`` (263-d), ``kit`` (251-d) or ``custom``."""
        return _dataset(self.feature_dim)

    @property
    def description(self) -> str:
        """What scored a result: record it with the numbers."""
        return f"official text_mot_match evaluator ({self.dataset}, {self.source})"

    def to(self, device: str | torch.device) -> OfficialEvaluator:
        self.networks.to(device)
        return self

    def embed_text(
        self,
        word_embs: torch.Tensor | np.ndarray,
        pos_ohot: torch.Tensor | np.ndarray,
        lengths: torch.Tensor | np.ndarray | Sequence[int],
    ) -> torch.Tensor:
        """``(B, 22, 300)``, ``(B, 22, 15)``, ``(B,)`` -> ``(B, 512)``."""
        return self.networks.embed_text(word_embs, pos_ohot, lengths)

    def embed_motion(
        self, motions: torch.Tensor | np.ndarray, lengths: torch.Tensor | np.ndarray | Sequence[int]
    ) -> torch.Tensor:
        """Evaluator-normalised ``(B, T, D)`` motions + frame lengths ``(B,)`` -> ``(B, 512)``."""
        return self.networks.embed_motion(motions, lengths)

    def encode_captions(self, captions: Sequence[Sequence[str]]) -> CaptionBatch:
        """``word/POS`` token lists -> padded word vectors, POS one-hots and lengths."""
        return self.words.encode(captions)

    def embed_captions(self, captions: Sequence[Sequence[str]]) -> torch.Tensor:
        """``word/POS`` token lists (or ``"w/P w/P"`` strings) -> ``(B, 512)``."""
        batch = self.encode_captions(captions)
        return self.embed_text(batch.word_embs, batch.pos_ohot, batch.lengths)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """Raw ``(..., D)`` features -> float32 ``(x - mean) / std`` with the evaluator's stats."""
        x = np.asarray(features)
        if x.shape[-1:] != (self.feature_dim,):
            raise MotionkitError(
                f"this evaluator scores {self.feature_dim}-d features; got shape {x.shape}"
            )
        if self.mean is None or self.std is None:
            raise MotionkitError(
                "this evaluator has no normalisation stats: pass mean= and std= (the "
                "evaluator's t2m_mean.npy / t2m_std.npy, or kit_*) to load_evaluator"
            )
        return ((x.astype(np.float64) - self.mean) / self.std).astype(np.float32)

    def embed_features(self, motions: Sequence[np.ndarray]) -> torch.Tensor:
        """Raw ``(T_i, D)`` features: normalised, zero-padded, lengths ``T_i`` -> ``(B, 512)``.

        The official protocol also crops test motions to a multiple of 4 frames (at a random
        offset): do that before calling, when replicating it.
        """
        normalised = [self.normalise(m) for m in motions]
        for m in normalised:
            if m.ndim != 2:
                raise MotionkitError(f"each motion must be (T, {self.feature_dim}), got {m.shape}")
        if not normalised:
            return self.embed_motion(np.zeros((0, 1, self.feature_dim), np.float32), [])
        frames = max(MAX_MOTION_LENGTH, *(len(m) for m in normalised))
        batch = np.zeros((len(normalised), frames, self.feature_dim), dtype=np.float32)
        for row, m in enumerate(normalised):
            batch[row, : len(m)] = m
        return self.embed_motion(batch, [len(m) for m in normalised])


def _find_glove(folder: Path, glove: str | Path | None) -> Path:
    if glove is not None:
        glove = Path(glove)
        if not glove.is_dir():
            raise MotionkitError(f"GloVe folder {glove} not found")
        return glove
    for parent in [folder, *list(folder.resolve().parents)[:3]]:
        if (parent / "glove" / GLOVE_FILES[0]).is_file():
            return parent / "glove"
    raise MotionkitError(
        f"no glove/{GLOVE_FILES[0]} in {folder} or the 3 folders above it; pass glove=<folder "
        f"holding {', '.join(GLOVE_FILES)}>"
    )


def _official_parts(
    src: str | Path,
    glove: str | Path | None,
    mean: str | Path | np.ndarray | None,
    std: str | Path | np.ndarray | None,
) -> tuple[EvaluatorNetworks, WordVectorizer, np.ndarray | None, np.ndarray | None, dict]:
    src = Path(src)
    if src.is_file():
        checkpoint, folder = src, src.parent
        # finest.tar sits in <dir>/text_mot_match/model/: look for glove and stats from <dir>
        if folder.name == "model" and folder.parent.name == "text_mot_match":
            folder = folder.parent.parent
    elif src.is_dir():
        found = [src / p for p in CHECKPOINT_PATHS if (src / p).is_file()]
        if not found:
            raise MotionkitError(
                f"{src} holds neither an official evaluator ({CHECKPOINT_PATHS[0]}) nor a "
                f"converted one ({META_FILE})"
            )
        checkpoint, folder = found[0], src
    else:
        raise MotionkitError(f"evaluator folder {src} not found")
    state, epoch = read_official_checkpoint(checkpoint)
    networks = EvaluatorNetworks(EvaluatorDims.from_state_dicts(state))
    networks.load_official(state, str(checkpoint))
    glove_dir = _find_glove(folder, glove)
    words = read_glove(glove_dir)
    if words.dim != networks.dims.dim_word:
        raise MotionkitError(
            f"GloVe vectors in {glove_dir} are {words.dim}-d but the text encoder takes "
            f"{networks.dims.dim_word}-d words"
        )
    mean_arr, std_arr, stats_source = _stats(mean, std, folder, networks.dims.feature_dim)
    info = {
        "checkpoint": str(checkpoint),
        "glove": str(glove_dir),
        "stats": stats_source,
        "epoch": epoch,
    }
    return networks, words, mean_arr, std_arr, info


def convert_official(
    src: str | Path,
    out_dir: str | Path,
    *,
    glove: str | Path | None = None,
    mean: str | Path | np.ndarray | None = None,
    std: str | Path | np.ndarray | None = None,
) -> Path:
    """Read the official files once (safely) and write them as safetensors + JSON to ``out_dir``.

    ``src``: the official folder or ``finest.tar``; ``glove``, ``mean``, ``std`` as in
    ``load_evaluator``. Returns ``out_dir``; ``load_evaluator(out_dir)`` then reads no pickle.
    """
    networks, words, mean_arr, std_arr, info = _official_parts(src, glove, mean, std)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MotionkitError(f"{out} exists and is not a folder")
    weights = {k: v.detach().cpu().contiguous() for k, v in networks.state_dict().items()}
    atomic_write_bytes(out / WEIGHTS_FILE, torch_save_safetensors(weights))
    atomic_write_bytes(out / GLOVE_FILE, np_save_safetensors({"vectors": words.vectors}))
    atomic_write_text(out / WORDS_FILE, json.dumps(words.word_index, ensure_ascii=False))
    dims = networks.dims
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": _dataset(dims.feature_dim),
        "official_name": DATASETS.get(dims.feature_dim, ("custom", "custom"))[1],
        "feature_dim": dims.feature_dim,
        "dims": dims.as_dict(),
        "unit_length": UNIT_LENGTH,
        "max_motion_length": MAX_MOTION_LENGTH,
        "max_words": MAX_WORDS,
        "vocabulary_size": len(words),
        "source": info,
        "stats": None
        if mean_arr is None or std_arr is None
        else {
            "dtype": str(mean_arr.dtype),
            "mean": [float(v) for v in mean_arr],
            "std": [float(v) for v in std_arr],
        },
    }
    atomic_write_text(out / META_FILE, json.dumps(meta, indent=1) + "\n")
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionkitError(f"{path} is not readable JSON ({_one_line(exc, 120)})") from None


def _load_converted(
    folder: Path,
    mean: str | Path | np.ndarray | None,
    std: str | Path | np.ndarray | None,
) -> OfficialEvaluator:
    names = (META_FILE, WEIGHTS_FILE, GLOVE_FILE, WORDS_FILE)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise MotionkitError(f"converted evaluator {folder} lacks {', '.join(missing)}")
    meta = _read_json(folder / META_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise MotionkitError(f"{folder / META_FILE} is not a motionkit converted evaluator")
    if meta.get("format_version") != FORMAT_VERSION:
        raise MotionkitError(
            f"{folder} was converted by format version {meta.get('format_version')}; this "
            f"motionkit reads version {FORMAT_VERSION}: convert the official files again"
        )
    try:
        weights = torch_load_safetensors((folder / WEIGHTS_FILE).read_bytes())
        vectors = np_load_safetensors((folder / GLOVE_FILE).read_bytes())["vectors"]
    except (OSError, SafetensorError, KeyError, ValueError) as exc:
        raise MotionkitError(
            f"the safetensors files in {folder} are unreadable ({_one_line(exc, 120)}); "
            "convert the official files again"
        ) from None
    state: dict[str, dict[str, torch.Tensor]] = {m: {} for m in MODULES}
    for key, value in weights.items():
        module, _, rest = key.partition(".")
        state.setdefault(module, {})[rest] = value
    unexpected = sorted(set(state) - set(MODULES))
    if unexpected:
        raise MotionkitError(f"{folder / WEIGHTS_FILE} has unexpected modules {unexpected}")
    networks = EvaluatorNetworks(EvaluatorDims.from_state_dicts(state))
    networks.load_official(state, str(folder / WEIGHTS_FILE))
    index = _read_json(folder / WORDS_FILE)
    if not isinstance(index, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in index.values()
    ):
        raise MotionkitError(f"{folder / WORDS_FILE} must map words to rows")
    words = WordVectorizer(vectors, index)
    if words.dim != networks.dims.dim_word:
        raise MotionkitError(
            f"{folder / GLOVE_FILE} vectors are {words.dim}-d, the text encoder takes "
            f"{networks.dims.dim_word}-d"
        )
    stats = meta.get("stats")
    if mean is None and std is None and isinstance(stats, dict):
        try:
            dtype = np.dtype(stats.get("dtype", "float64"))
            mean, std = (np.asarray(stats[k], dtype=dtype) for k in ("mean", "std"))
        except (KeyError, TypeError, ValueError):
            raise MotionkitError(f"{folder / META_FILE}: stats are malformed") from None
    mean_arr, std_arr, _ = _stats(mean, std, None, networks.dims.feature_dim)
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    epoch = source.get("epoch")
    return OfficialEvaluator(
        networks, words, mean_arr, std_arr, str(folder), epoch if isinstance(epoch, int) else None
    )


def load_evaluator(
    path: str | Path,
    *,
    glove: str | Path | None = None,
    mean: str | Path | np.ndarray | None = None,
    std: str | Path | np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> OfficialEvaluator:
    """Load the standard evaluator from a converted folder, an official folder, or ``finest.tar``.

    ``glove``: folder of the GloVe files (official layout only; default: searched, see the module
    docstring). ``mean``/``std``: the evaluator's normalisation (``.npy`` paths or arrays); they
    override stats found in the folder. Every problem is a one-line ``MotionkitError``.
    """
    path = Path(path)
    if path.is_dir() and (path / META_FILE).is_file():
        if glove is not None:
            raise MotionkitError(f"{path} is a converted evaluator: it carries its GloVe vectors")
        evaluator = _load_converted(path, mean, std)
    else:
        networks, words, mean_arr, std_arr, info = _official_parts(path, glove, mean, std)
        evaluator = OfficialEvaluator(
            networks, words, mean_arr, std_arr, info["checkpoint"], info["epoch"]
        )
    return evaluator.to(device)
