"""Publish the recorded results into the documentation: ``docs/results.md`` and its figures.

    python benchmarks/publish.py          # after a benchmark wrote benchmarks/results/*

The page is assembled from the markdown files the benchmarks write (nothing is typed by hand),
their figures are copied to ``docs/assets/results/``; ``tests/test_docs_results.py`` fails when
the page no longer matches the results, so the docs cannot drift from them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "results.md"
ASSETS = ROOT / "docs" / "assets" / "results"

#: (result file, section title), in page order; missing files are left out.
SECTIONS = (
    ("bench-combinations.md", "The combination table (synthetic corpus)"),
    ("bench-combinations-bandai.md", "The combination table (Bandai sample)"),
    ("bench-default.md", "Generation quality (synthetic corpus)"),
    ("bandai_eval.md", "Generation quality (Bandai sample)"),
    ("scaling_validation.md", "Scaling laws at CPU scale"),
    ("bench-scaling.md", "The scaling suite"),
    ("tokenizer_quality.md", "Tokenizer quality"),
    ("tokenizer_batching.md", "Tokenizer speed: batched vs one clip at a time"),
    ("tokenizer_throughput.md", "Tokenizer throughput"),
    ("generator_speed.md", "Generator speed"),
)


def render() -> tuple[str, list[Path]]:
    """The page's text and the figures it shows."""
    parts = [
        "# Results",
        "",
        "Every table on this page is a file in `benchmarks/results/`, written by the command its",
        "section names, on the machine it names (mostly a two-core CPU). Regenerate this page",
        "with `python benchmarks/publish.py`.",
        "",
    ]
    figures: list[Path] = []
    for name, title in SECTIONS:
        path = RESULTS / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^# .*\n", "", text, count=1)  # the file's own title
        text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)

        def figure(match: re.Match[str]) -> str:
            figures.append(RESULTS / match.group(2))
            return f"![{match.group(1)}](assets/results/{match.group(2)})"

        text = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", figure, text)
        parts += [f"## {title}", "", f"From `benchmarks/results/{name}`.", "", text.strip(), ""]
    return "\n".join(parts) + "\n", figures


def main() -> None:
    text, figures = render()
    ASSETS.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        shutil.copyfile(figure, ASSETS / figure.name)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE} and {len(figures)} figures")


if __name__ == "__main__":
    main()
