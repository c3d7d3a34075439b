"""Training curves of a run folder (``motionkit plot``): matplotlib's Agg canvas, imported lazily.

A run folder is a tokenizer, generator or evaluator run (``metrics.jsonl`` beside its
``config.json``) or a pipeline run (its stages in ``RUN/tokenizer`` and ``RUN/generator``). Each
stage gets, in this order:

* one ``train`` panel: ``loss`` and the logged loss terms (``LOSS_TERMS``, or any name with
  ``loss`` in it; a term equal to ``loss`` at every step is left out), log-y when positive and
  spanning more than ``LOG_SPAN``;
* one panel per metric of every other split (``val``), except the counters in
  ``NOT_METRICS``.

Steps go on a symmetric-log x axis when the positive steps span more than two decades.
``metrics.jsonl`` lines that do not parse (a line cut short by a kill) are skipped and counted;
when a step appears twice in a split, its last line wins.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitError
from motionkit.io import atomic_write_bytes
from motionkit.io import check_output as io_check_output

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"
DEFAULT_OUTPUT = "curves.png"
#: The stage folders of a pipeline run, in training order.
PIPELINE_STAGES = ("tokenizer", "generator")
#: Logged training terms that are losses (besides ``loss`` and names containing "loss").
LOSS_TERMS = frozenset({"recon", "joints", "aux", "commit", "ce", "nce", "kl"})
#: Numbers logged with a validation that count work rather than measure the model.
NOT_METRICS = frozenset(
    {
        "steps_done",
        "tokens_seen",
        "flops",
        "paper_flops",
        "paper_non_vocab",
        "paper_vocab",
        "positions",
    }
)
#: Output formats, by suffix.
FORMATS = (".png", ".svg", ".pdf")
#: A positive curve is drawn on a log-y axis when max / min exceeds this.
LOG_SPAN = 30.0
_COLUMNS = 5


class PlotError(MotionkitError):
    """A run folder or metrics file that cannot be plotted, or an output that cannot be written."""


@dataclass(frozen=True)
class Series:
    """One line: a metric's values against the steps they were logged at (sorted by step)."""

    name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Panel:
    """One small plot: the ``series`` of one ``stage`` and ``split``; ``metric`` names it."""

    stage: str
    split: str
    metric: str
    series: tuple[Series, ...]

    @property
    def title(self) -> str:
        """``"tokenizer train: loss"``, ``"generator val: lu"``."""
        return f"{self.stage} {self.split}: {self.metric}"


@dataclass(frozen=True)
class StageMetrics:
    """The parsed ``metrics.jsonl`` of one stage folder."""

    stage: str
    folder: Path
    records: tuple[dict[str, Any], ...]
    skipped: int


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_metrics(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """The records of a ``metrics.jsonl`` that have an integer ``step`` and a string ``split``,
    and the number of other non-empty lines (cut short, not JSON, not a record), skipped."""
    records: list[dict[str, Any]] = []
    skipped = 0
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise PlotError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if not isinstance(record, dict):
            skipped += 1
            continue
        step, split = record.get("step"), record.get("split")
        if not isinstance(step, int) or isinstance(step, bool) or not isinstance(split, str):
            skipped += 1
            continue
        records.append(record)
    return records, skipped


def _stage_name(folder: Path, fallback: str) -> str:
    try:
        stage = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")).get("stage")
    except (OSError, ValueError, AttributeError):
        return fallback
    return stage if isinstance(stage, str) and stage else fallback


def find_stages(run: str | Path) -> list[tuple[str, Path]]:
    """``[(stage, folder), ...]`` of the run folder ``run``: itself, or a pipeline's stages.

    Raises:
        PlotError: ``run`` is missing, a file, not a run folder, or has no ``metrics.jsonl``.
    """
    run = Path(run)
    hint = "give the --out folder of 'motionkit train'"
    if not run.exists():
        raise PlotError(f"no run folder at {run}; {hint}")
    if not run.is_dir():
        raise PlotError(f"{run} is a file, not a run folder; {hint}")
    if (run / METRICS_FILE).is_file():
        return [(_stage_name(run, run.name), run)]
    stages = [
        (_stage_name(run / name, name), run / name)
        for name in PIPELINE_STAGES
        if (run / name / METRICS_FILE).is_file() or (run / name / CONFIG_FILE).is_file()
    ]
    if stages:
        return stages
    if (run / CONFIG_FILE).is_file():
        stage = _stage_name(run, "")
        if stage == "pipeline":
            raise PlotError(
                f"{run} is a pipeline run whose stages have not started (no tokenizer/ or "
                "generator/ folder); plot it once training has logged its first steps"
            )
        raise PlotError(
            f"{run} has no {METRICS_FILE}: the run has not logged a step yet; train it "
            f"('motionkit train --out {run}', or --resume) and plot it after --log-every steps"
        )
    raise PlotError(
        f"{run} is not a run folder (no {CONFIG_FILE}, {METRICS_FILE}, tokenizer/ or "
        f"generator/ in it); {hint}"
    )


def load_stages(run: str | Path) -> list[StageMetrics]:
    """The parsed metrics of every stage of ``run`` that has logged at least one metric line.

    Raises:
        PlotError: no stage has a metric line (see also ``find_stages``).
    """
    found: list[StageMetrics] = []
    empty: list[str] = []
    for stage, folder in find_stages(run):
        path = folder / METRICS_FILE
        if not path.is_file():
            empty.append(f"{path} does not exist yet")
            continue
        records, skipped = read_metrics(path)
        if not any(_metric_keys(records)):
            cut = f" ({skipped} line(s) could not be read)" if skipped else ""
            empty.append(f"{path} holds no complete metric line{cut}")
            continue
        found.append(StageMetrics(stage, folder, tuple(records), skipped))
    if not found:
        raise PlotError(
            f"nothing to plot: {'; '.join(empty)}; plot the run once training has logged "
            "its first steps (every --log-every steps, and a validation at step 0)"
        )
    return found


def _metric_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in ("step", "split") and _is_number(value):
                keys.setdefault(key, None)
    return list(keys)


def _by_step(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per step, the last line of a step winning, sorted by step."""
    latest = {int(r["step"]): r for r in records}
    return [latest[step] for step in sorted(latest)]


def _series(records: Sequence[dict[str, Any]], key: str) -> Series:
    points = [(int(r["step"]), float(r[key])) for r in records if _is_number(r.get(key))]
    return Series(key, tuple(s for s, _ in points), tuple(v for _, v in points))


def is_loss(name: str) -> bool:
    """Whether a logged training number is a loss (``loss``, a ``LOSS_TERMS`` name, or *loss*)."""
    return name in LOSS_TERMS or "loss" in name


def stage_panels(stage: StageMetrics) -> list[Panel]:
    """The panels of one stage: its training losses, then one per metric of each other split."""
    splits: dict[str, list[dict[str, Any]]] = {}
    for record in stage.records:
        splits.setdefault(record["split"], []).append(record)
    panels: list[Panel] = []
    train = _by_step(splits.pop("train", []))
    losses = sorted((k for k in _metric_keys(train) if is_loss(k)), key=lambda k: k != "loss")
    series = [_series(train, key) for key in losses]
    if series and series[0].name == "loss":  # a part equal to the total is not drawn twice
        total = series[0]
        series = [total] + [
            s for s in series[1:] if (s.steps, s.values) != (total.steps, total.values)
        ]
    if series:
        panels.append(Panel(stage.stage, "train", series[0].name, tuple(series)))
    for split, rows in splits.items():
        rows = _by_step(rows)
        for key in _metric_keys(rows):
            if key not in NOT_METRICS:
                panels.append(Panel(stage.stage, split, key, (_series(rows, key),)))
    return panels


def curve_panels(run: str | Path) -> list[Panel]:
    """Every panel ``motionkit plot`` draws for ``run``, stage by stage."""
    return [panel for stage in load_stages(run) for panel in stage_panels(stage)]


def check_output(out: str | Path) -> Path:
    """Refuse an output path that cannot take a figure, before anything is drawn."""
    out = Path(out)
    if out.is_dir():
        raise PlotError(f"{out} is a folder; give a file name such as {out / DEFAULT_OUTPUT}")
    if out.suffix.lower() not in FORMATS:
        raise PlotError(
            f"cannot tell the image format of {out.name!r}: end --out in "
            f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}"
        )
    try:
        return io_check_output(out, overwrite=True)  # a figure is redrawn in place
    except MotionkitError as exc:
        raise PlotError(str(exc)) from None


def _log_x(panel: Panel) -> float | None:
    """The linear threshold of a symlog x axis when the steps span over two decades, else None."""
    steps = [s for series in panel.series for s in series.steps if s > 0]
    if steps and max(steps) / min(steps) > 100:
        return float(min(steps))
    return None


def _log_y(panel: Panel) -> bool:
    values = [v for series in panel.series for v in series.values if math.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SPAN


def draw(panels: Sequence[Panel], title: str = "", dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` of ``panels``, each stage starting on a new row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows_of: dict[str, list[Panel]] = {}
    for panel in panels:
        rows_of.setdefault(panel.stage, []).append(panel)
    columns = max(1, min(_COLUMNS, max(len(p) for p in rows_of.values())))
    layout: list[list[Panel]] = []
    for group in rows_of.values():
        for start in range(0, len(group), columns):
            layout.append(group[start : start + columns])
    figure = Figure(figsize=(3.3 * columns, 2.5 * len(layout) + 0.5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    if title:
        figure.suptitle(title, fontsize=11)
    grid = figure.add_gridspec(len(layout), columns)
    for row, row_panels in enumerate(layout):
        for column, panel in enumerate(row_panels):
            ax = figure.add_subplot(grid[row, column])
            many = max(len(s.steps) for s in panel.series) > 30
            for series in panel.series:
                ax.plot(
                    series.steps,
                    series.values,
                    marker=None if many else "o",
                    markersize=3,
                    linewidth=1.2,
                    label=series.name,
                )
            threshold = _log_x(panel)
            if threshold is not None:
                ax.set_xscale("symlog", linthresh=threshold)
            if _log_y(panel):
                ax.set_yscale("log")
            first = panel.series[0]
            ax.set_title(panel.title, fontsize=9)
            ax.set_xlabel(f"step (last: {first.values[-1]:.4g} at {first.steps[-1]})", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
            if len(panel.series) > 1:
                ax.legend(fontsize=7, frameon=False)
    return figure


def plot_curves(
    run: str | Path, out: str | Path | None = None, *, dpi: int = 100
) -> tuple[Path, list[Panel], list[StageMetrics]]:
    """Draw the training curves of ``run`` into ``out`` (default ``RUN/curves.png``), atomically.

    Returns the written path, the panels drawn and the stages read (with their skipped-line
    counts).

    Raises:
        PlotError: see ``find_stages``, ``load_stages`` and ``check_output``; or writing failed.
    """
    run = Path(run)
    stages = load_stages(run)
    out = check_output(run / DEFAULT_OUTPUT if out is None else out)
    panels = [panel for stage in stages for panel in stage_panels(stage)]
    if not panels:
        raise PlotError(f"the metrics of {run} hold no losses or validation metrics to plot")
    return write_figure(draw(panels, title=str(run), dpi=dpi), out, dpi=dpi), panels, stages


def combination_figure(cells: Sequence[dict[str, Any]], title: str = "", dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` of a combination table (``motionkit bench --suite combinations``).

    Three panels over the tokenizers, one bar per backbone: R-precision top-3 and FID of the
    generated motion (mean with its 95% interval; the real motion's top-3 as a dashed line), and
    each tokenizer's reconstruction MPJPE with its codebook usage written on the bar.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not cells:
        raise PlotError("the combination table has no cells to plot")
    tokenizers = list(dict.fromkeys(c["tokenizer"] for c in cells))
    backbones = list(dict.fromkeys(c["backbone"] for c in cells))
    by_key = {(c["tokenizer"], c["backbone"]): c for c in cells}
    figure = Figure(figsize=(12.5, 3.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    if title:
        figure.suptitle(title, fontsize=11)
    axes = figure.subplots(1, 3)
    width = 0.8 / len(backbones)
    for panel, (metric, label) in enumerate((("top3", "R-precision top-3 (higher is better)"),
                                             ("fid", "FID (lower is better)"))):  # fmt: skip
        ax = axes[panel]
        for b, backbone in enumerate(backbones):
            xs, means, errors = [], [], []
            for t, tokenizer in enumerate(tokenizers):
                cell = by_key.get((tokenizer, backbone))
                if cell is not None:
                    xs.append(t + (b - (len(backbones) - 1) / 2) * width)
                    means.append(cell["model"][metric]["mean"])
                    errors.append(cell["model"][metric]["ci95"])
            ax.bar(xs, means, width * 0.95, yerr=errors, capsize=3, label=backbone)
        if metric == "top3":
            real = cells[0]["real"]["top3"]["mean"]
            ax.axhline(real, color="0.3", linestyle="--", linewidth=1)
            ax.text(len(tokenizers) - 0.5, real, f"real motion {real:.3f}", fontsize=7,
                    ha="right", va="top", color="0.3")  # fmt: skip
            ax.set_ylim(0, 1.22)
            ax.legend(fontsize=7, frameon=False, loc="upper left", ncols=len(backbones))
        ax.set_title(label, fontsize=9)
    ax = axes[2]
    recon = [next(c for c in cells if c["tokenizer"] == t) for t in tokenizers]
    bars = ax.bar(range(len(tokenizers)), [c["mpjpe_mm"] for c in recon], 0.6, color="0.55")
    for bar, cell in zip(bars, recon, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"usage {cell['usage']:.2f}",
                ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_title("tokenizer reconstruction MPJPE, mm (lower is better)", fontsize=9)
    names = [f"{c['tokenizer']} ({c['codes']}x{c['levels']})" for c in recon]
    for ax in axes:
        ax.set_xticks(range(len(tokenizers)), names, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    return figure


def write_figure(figure: Any, out: str | Path, dpi: int = 100) -> Path:
    """Write a matplotlib figure as PNG (or the format of ``out``'s suffix), atomically."""
    out = Path(out)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=out.suffix.lower().lstrip(".") or "png", dpi=dpi,
                   facecolor="white")  # fmt: skip
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise PlotError(
            f"cannot write {out}: {exc.strerror or exc}; choose another --out"
        ) from None
    return out
