"""The standard text-to-motion evaluation of a generator run (``motionkit eval``).

Protocol (REFERENCE.md §4; Guo et al. 2022, T2M-GPT, MoMask), step by step:

1. Test items: the ``test`` split, clips with a caption and ``min_len <= frames < 200`` (40 for
   20 fps HumanML3D-layout data, 24 for KIT-ML), caption spans as sub-clips; with
   ``max_items`` a random subset of that many, fixed by the seed (the default uses them all).
2. Every replication (default 20, independent seeds): one random caption per item; items in a
   random order, cut into batches of 32 (the last incomplete one dropped).
3. Motion for each row: real (the clip), tokenizer (the clip encoded and decoded: the tokenizer's
   ceiling), model (generated from the caption, ``lengths="gt"``: exactly the clip's
   ``frames // 4`` tokens, or ``"model"``: until END), shuffled (the real motion of another item:
   the floor of R-precision and matching).
4. Normalisation contract: generated tokens are decoded and de-normalised with the *generator's*
   (tokenizer's) statistics into raw features; the evaluator re-normalises raw features with *its
   own* statistics. Nothing else is normalised.
5. Metrics on evaluator embeddings: R-precision top-1/2/3 and MM-Dist within batches, FID against
   the real test motion, Diversity over ``min(300, N)`` random pairs; MultiModality once, over
   ``mm_texts`` captions x ``mm_repeats`` generations x ``mm_pairs`` pairs.
6. Every metric: mean ± 1.96 std / sqrt(runs), population std.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.errors import MotionkitError
from motionkit.eval import metrics as M
from motionkit.eval.protocol import MeanCI, replicate

ROWS = ("real", "tokenizer", "model", "shuffled")
METRICS = ("top1", "top2", "top3", "fid", "matching", "diversity")


@dataclass(frozen=True)
class EvalSettings:
    """How the protocol is run (recorded with every result)."""

    replications: int = 20
    batch_size: int = 32
    diversity_pairs: int = 300
    mm_texts: int = 100
    mm_repeats: int = 30
    mm_pairs: int = 10
    lengths: str = "gt"
    seed: int = 0
    #: Evaluate on at most this many test items, a random subset fixed by ``seed`` (0: all).
    max_items: int = 0

    def __post_init__(self) -> None:
        if self.lengths not in ("gt", "model"):
            raise MotionkitError(f"--lengths must be 'gt' or 'model', got {self.lengths!r}")
        for name in ("replications", "batch_size", "diversity_pairs", "mm_pairs"):
            if getattr(self, name) < 1:
                raise MotionkitError(f"--{name.replace('_', '-')} must be at least 1")
        if self.batch_size < 3:
            raise MotionkitError(
                f"--batch-size must be at least 3 (R-precision ranks the top 3 of a batch), "
                f"got {self.batch_size}"
            )
        if self.mm_texts < 0 or self.mm_repeats < 0:
            raise MotionkitError("--mm-texts and --mm-repeats must not be negative")
        if self.max_items < 0 or 0 < self.max_items < self.batch_size:
            raise MotionkitError(
                f"--max-items must be 0 (all) or at least the batch size ({self.batch_size}), "
                f"got {self.max_items}"
            )


@dataclass
class EvalResult:
    """Rows of mean ± CI per metric, plus everything needed to reproduce them."""

    rows: dict[str, dict[str, MeanCI]]
    multimodality: float | None
    items: int
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.record,
            "items": self.items,
            "rows": {
                row: {name: value.as_dict() for name, value in values.items()}
                for row, values in self.rows.items()
            },
            "multimodality": self.multimodality,
        }

    def markdown(self) -> str:
        head = "| motion | R-precision top-1 | top-2 | top-3 | FID | MM-Dist | Diversity |"
        lines = [head, "|---|---|---|---|---|---|---|"]
        for row, values in self.rows.items():
            cells = [values[m].format() for m in METRICS]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        if self.multimodality is not None:
            lines.append("")
            lines.append(f"MultiModality (model): {self.multimodality:.3f}")
        counts = self.record.get("test_items", {})
        if counts.get("available", self.items) > self.items:
            lines.append("")
            lines.append(
                f"On {self.items} of the {counts['available']} test items (a random subset "
                "fixed by the seed)."
            )
        return "\n".join(lines) + "\n"


def test_items(data: Path, feature_dim: int) -> list:
    """Captioned test clips under the protocol's length filter."""
    from motionkit.data.humanml3d import read_folder
    from motionkit.motion.skeleton import KIT21

    kit = feature_dim == KIT21.feature_dim
    clips = read_folder(
        data,
        "test",
        fps=12.5 if kit else 20.0,
        min_len=24 if kit else 40,
        max_len=200,
        require_text=True,
    ).clips
    return [c for c in clips if any(cap.text.strip() for cap in c.captions)]


def _captions(clip: Any) -> list[Any]:
    return [c for c in clip.captions if c.text.strip()]


class OfficialAdapter:
    """The standard evaluator of Guo et al. behind the interface the protocol uses.

    Captions are scored with the ``word/POS`` tags of the dataset's text files when they have
    them (as the official evaluation does), else tagged now (spaCy when installed, else
    motionkit's lexicon tagger); which one was used is recorded with the result.
    """

    def __init__(self, official: Any) -> None:
        self.official = official
        self.feature_dim = int(official.feature_dim)
        self.description = official.description
        self.taggers: set[str] = set()

    @property
    def tagger(self) -> str:
        return ", ".join(sorted(self.taggers)) or "none used yet"

    def embed_captions(self, captions: list[Any]) -> np.ndarray:
        from motionkit.eval.evaluator.words import tag_caption

        tokens = []
        for caption in captions:
            if getattr(caption, "tokens", ()):
                tokens.append(list(caption.tokens))
                self.taggers.add("the dataset's word/POS tags")
            else:
                tagged = tag_caption(getattr(caption, "text", caption))
                tokens.append(list(tagged.tokens))
                self.taggers.add(tagged.tagger)
        return self.official.embed_captions(tokens).detach().cpu().numpy()

    def embed_motion(self, motions: list[np.ndarray]) -> np.ndarray:
        return self.official.embed_features(motions).detach().cpu().numpy()


def open_evaluator(path: Path, device: Any = "cpu") -> Any:
    """A motionkit evaluator run (``config.json``) or the official evaluator's files."""
    if (Path(path) / "config.json").is_file():
        from motionkit.eval.train import load_evaluator

        return load_evaluator(path, device)
    from motionkit.eval.evaluator import load_evaluator as load_official

    return OfficialAdapter(load_official(path, device=device))


def _generate(loaded: Any, captions: list[str], lengths: list[int] | None, seeds: list[int],
              sampling: Any) -> list[np.ndarray]:  # fmt: skip
    """Raw features of generated motion, one per caption."""
    from motionkit.generate import decode_features, sample_tokens

    features: list[np.ndarray] = []
    for start in range(0, len(captions), 64):
        chunk = slice(start, start + 64)
        tokens = sample_tokens(
            loaded.model,
            captions[chunk],
            sampling,
            seeds=seeds[chunk],
            lengths=None if lengths is None else lengths[chunk],
        )
        features += decode_features(loaded, tokens)
    return features


def _scores(text: np.ndarray, motion: np.ndarray, real: np.ndarray, batch: int,
            pairs: int, rng: np.random.Generator) -> dict[str, float]:  # fmt: skip
    top = M.r_precision(text, motion, top_k=3, batch_size=batch)
    return {
        "top1": float(top[0]),
        "top2": float(top[1]),
        "top3": float(top[2]),
        "fid": M.fid(real, motion),
        "matching": M.matching_score(text, motion, batch_size=batch),
        "diversity": M.diversity(motion, num_pairs=min(pairs, len(motion)), rng=rng),
    }


def evaluate_run(
    loaded: Any,
    evaluator: Any,
    data: Path,
    settings: EvalSettings,
    sampling: Any,
) -> EvalResult:
    """Run the protocol (module docstring) for a loaded generator and an evaluator."""
    from motionkit.progress import progress_bar

    dim = int(loaded.mean.shape[0])
    if evaluator.feature_dim != dim:
        raise MotionkitError(
            f"the evaluator scores {evaluator.feature_dim}-d features but the generator makes "
            f"{dim}-d ones: train an evaluator on this dataset ('motionkit evaluator train')"
        )
    items = test_items(Path(data), dim)
    available = len(items)
    if settings.max_items and available > settings.max_items:
        keep = np.random.default_rng([settings.seed, 1]).choice(
            available, settings.max_items, replace=False
        )
        items = [items[i] for i in sorted(keep)]
    if len(items) < settings.batch_size:
        raise MotionkitError(
            f"{data} has {len(items)} captioned test clips; the protocol needs at least one "
            f"batch of {settings.batch_size} (lower --batch-size for a small dataset)"
        )
    fpt = int(loaded.tokenizer.frames_per_token)
    limit = loaded.model.backbone.max_motion_tokens - 1
    token_lengths = [max(1, min(limit, c.num_frames // fpt)) for c in items]
    # real motion cut to whole tokens, as generated motion is (the official protocol crops too)
    real_features = [c.features[: len(c.features) - len(c.features) % fpt] for c in items]
    real = evaluator.embed_motion(real_features)
    recon = evaluator.embed_motion(_reconstruct(loaded, [c.features for c in items]))
    n = len(items)

    with progress_bar("evaluating (replications)", settings.replications) as advance:

        def one_run(rng: np.random.Generator) -> dict[str, float]:
            order = rng.permutation(n)
            chosen = [_captions(items[i]) for i in order]
            captions = [options[rng.integers(len(options))] for options in chosen]
            text = evaluator.embed_captions(captions)
            prompts = [c.text for c in captions]
            seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]
            lengths = [token_lengths[i] for i in order] if settings.lengths == "gt" else None
            generated = evaluator.embed_motion(_generate(loaded, prompts, lengths, seeds, sampling))
            shift = order[np.roll(np.arange(n), 1)]  # every row gets another item's motion
            rows = {
                "real": real[order],
                "tokenizer": recon[order],
                "model": generated,
                "shuffled": real[shift],
            }
            out = {}
            for row, motion in rows.items():
                for name, value in _scores(
                    text, motion, real, settings.batch_size, settings.diversity_pairs, rng
                ).items():
                    out[f"{row}.{name}"] = value
            advance(1)
            return out

        summary = replicate(one_run, runs=settings.replications, seed=settings.seed)
    rows = {row: {m: summary[f"{row}.{m}"] for m in METRICS} for row in ROWS}
    mm = _multimodality(loaded, evaluator, items, settings, sampling, token_lengths)
    record = {
        "data": str(Path(data).resolve()),
        "generator": str(loaded.run_dir),
        "evaluator": evaluator.description,
        "caption_tagger": getattr(evaluator, "tagger", "none (the evaluator reads raw captions)"),
        "settings": asdict(settings),
        "test_items": {"used": n, "available": available},
        "sampling": asdict(sampling),
        "length_protocol": (
            "ground-truth lengths (frames // frames_per_token tokens, END refused before)"
            if settings.lengths == "gt"
            else "the model's END"
        ),
        "normalisation": (
            "generated tokens decoded and de-normalised with the tokenizer's mean/std; the "
            "evaluator re-normalises raw features with its own mean/std"
        ),
    }
    return EvalResult(rows, mm, n, record)


def _reconstruct(loaded: Any, clips: list[np.ndarray], batch_size: int = 64) -> list[np.ndarray]:
    """Each clip through the tokenizer: encode, decode, de-normalise (frames cut to 4k); clips of
    one cut length run as one batch (no padding, so each gets what it gets alone)."""
    import torch

    from motionkit.batching import equal_length_batches

    fpt = int(loaded.tokenizer.frames_per_token)
    device = next(loaded.tokenizer.parameters()).device
    cut = [len(clip) - len(clip) % fpt for clip in clips]
    out: list[np.ndarray | None] = [None] * len(clips)
    with torch.no_grad():
        for frames, rows in equal_length_batches(cut, batch_size):
            x = np.stack([(clips[i][:frames] - loaded.mean) / loaded.std for i in rows])
            y = loaded.tokenizer(torch.from_numpy(x.astype(np.float32)).to(device))
            recon = y.reconstruction.cpu().numpy() * loaded.std + loaded.mean
            for row, i in enumerate(rows):
                out[i] = recon[row]
    return out  # type: ignore[return-value]


def _multimodality(
    loaded: Any,
    evaluator: Any,
    items: list,
    settings: EvalSettings,
    sampling: Any,
    token_lengths: list[int],
) -> float | None:
    if settings.mm_texts == 0 or settings.mm_repeats < 2:
        return None
    rng = np.random.default_rng(settings.seed + 1)
    chosen = rng.choice(len(items), size=min(settings.mm_texts, len(items)), replace=False)
    captions, lengths, seeds = [], [], []
    for i in chosen:
        caption = _captions(items[i])[0].text
        for r in range(settings.mm_repeats):
            captions.append(caption)
            lengths.append(token_lengths[i])
            seeds.append(settings.seed * 1_000_003 + int(i) * 1000 + r)
    use = lengths if settings.lengths == "gt" else None
    emb = evaluator.embed_motion(_generate(loaded, captions, use, seeds, sampling))
    grouped = emb.reshape(len(chosen), settings.mm_repeats, -1)
    pairs = min(settings.mm_pairs, settings.mm_repeats)
    return M.multimodality(grouped, num_pairs=pairs, rng=rng)


def write_result(result: EvalResult, out: Path) -> tuple[Path, Path]:
    """``out`` (JSON) and the same name with ``.md``, written atomically."""
    from motionkit.io import atomic_write_text

    md = out.with_suffix(".md")
    atomic_write_text(out, json.dumps(result.to_dict(), indent=2) + "\n")
    atomic_write_text(md, "# Evaluation\n\n" + result.markdown())
    return out, md
