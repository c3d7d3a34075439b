"""``RUN/MODEL_CARD.md``: what a trained run is, how it was made and how well it did.

Written at the end of every ``motionkit train`` (for a pipeline, one card at the top covering both
stages) from the run's own files: ``config.json`` (stage, components, options), ``metrics.jsonl``
(steps, final validation) and ``environment.json`` (versions, commit, machine). Nothing is typed
by hand, so the card cannot drift from the run. Pure Python: no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from motionkit.io import atomic_write_text
from motionkit.provenance import read_environment

CARD_FILENAME = "MODEL_CARD.md"

_USE = {
    "tokenizer": "motionkit eval-tokenizer {run} --data DIR; motionkit tokenize {run} --data DIR",
    "generator": 'motionkit generate {run} "a person walks forward" --out samples',
    "pipeline": 'motionkit generate {run} "a person walks forward" --out samples',
    "evaluator": "motionkit eval GENERATOR_RUN --data DIR --evaluator {run}",
}

_LIMITS = (
    "Trained on the data named above only: motion outside its skeleton, frame rate, style and "
    "caption vocabulary is out of distribution. Generated motion is not physically simulated "
    "(feet may slide, bodies may intersect). The synthetic corpus, when used, is procedurally "
    "generated and says nothing about quality on real motion capture."
)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or ``{}`` when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _metrics(run: Path) -> list[dict[str, Any]]:
    from motionkit.plots import PlotError, read_metrics

    try:
        return read_metrics(run / "metrics.jsonl")[0]
    except PlotError:  # no metrics (yet): the card says less
        return []


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _components(config: dict[str, Any]) -> list[str]:
    lines = []
    for section, values in config.items():
        if not isinstance(values, dict) or section in ("train",):
            continue
        name = values.get("name")
        options = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items() if k != "name")
        lines.append(f"| {section} | {name or ''} | {options} |")
    return lines


def _stage_section(run: Path, title: str) -> list[str]:
    config = _read_json(run / "config.json")
    rows = _metrics(run)
    vals = [r for r in rows if r.get("split") == "val"]
    out = [f"## {title}", ""]
    out += ["| section | component | options |", "|---|---|---|", *_components(config), ""]
    train = config.get("train", {})
    if train:
        keys = ("max_steps", "batch_size", "lr", "schedule", "warmup_steps", "seed", "ema")
        out.append("Training: " + ", ".join(f"{k} {_fmt(train[k])}" for k in keys if k in train))
        out.append("")
    if vals:
        last = vals[-1]
        shown = {k: v for k, v in last.items() if k not in ("split",) and not isinstance(v, dict)}
        out.append("Final validation (step {}): {}".format(
            last.get("step"), ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items() if k != "step")
        ))  # fmt: skip
        out.append("")
    return out


def write_model_card(run: str | Path) -> Path:
    """Write ``run/MODEL_CARD.md`` from the run's files; returns its path."""
    run = Path(run)
    config = _read_json(run / "config.json")
    stage = config.get("stage", "unknown")
    env = read_environment(run)
    first = env[0] if env else {}
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    data = dataset.get("root") or dataset.get("name")
    lines = [
        f"# Model card: {run.name}",
        "",
        f"A motionkit **{stage}** run. Use it with:",
        "",
        "```bash",
        _USE.get(stage, "motionkit --help").format(run=run),
        "```",
        "",
        f"**Data**: {data or 'see config.json'} (split {dataset.get('split', 'train')}).",
        "",
        f"**Limitations**: {_LIMITS}",
        "",
    ]
    if stage == "pipeline":
        for sub in ("tokenizer", "generator"):
            if (run / sub / "config.json").is_file():
                lines += _stage_section(run / sub, f"The {sub}")
    else:
        lines += _stage_section(run, f"The {stage}")
    if first:
        versions = first.get("versions") or {}
        lines += [
            "## Provenance",
            "",
            f"Trained from `{' '.join(first.get('command') or [])}` at {first.get('time')} on "
            f"{first.get('machine', '?')}; motionkit "
            f"{versions.get('motionkit')}, torch {versions.get('torch')}, git commit "
            f"{first.get('git_commit')}. Every process that trained in the run is in "
            "environment.json; the exact options are in config.json.",
            "",
        ]
    return atomic_write_text(run / CARD_FILENAME, "\n".join(lines))
