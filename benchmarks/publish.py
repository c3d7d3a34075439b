"""Publish the recorded results into the documentation: ``docs/results.md`` and its figures.

    python benchmarks/publish.py          # after a benchmark wrote benchmarks/results/*
    python benchmarks/publish.py --gallery demo runs/demo     # also a gallery section of a run

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
    ("features_vs_published.md", "Feature extraction: batched vs the published per-clip code"),
    ("tokenizer_throughput.md", "Tokenizer throughput"),
    ("generator_speed.md", "Generator speed"),
)


def render() -> tuple[str, list[Path]]:
    """The page's text and the figures it shows."""
    parts = [
        "# Results",
        "",
        "Every table on this page is a file in `benchmarks/results/`, written by the command its",
        "section names, on the machine it names (mostly a two-core CPU). The page only gathers",
        "those files: to refresh a table, rerun its command (`motionkit bench` with",
        "`--results benchmarks/results`, or the script), then `python benchmarks/publish.py`.",
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


#: Gallery sections: title and what produced them. Each section's files live in
#: docs/assets/gallery/<name>/ (its GIFs and the index.json of the ``motionkit generate`` run).
GALLERY_SECTIONS = {
    "demo": (
        "The `make demo` run (synthetic corpus)",
        "`scamo-tiny` (FSQ 8,6,5 tokenizer + a 4-layer, 128-wide prefix-LM with a learned text "
        "encoder) trained for minutes on the 1,000-clip synthetic corpus on two CPU cores. "
        "Regenerate with `make demo` then `python benchmarks/publish.py --gallery demo runs/demo`.",
    ),
    "bandai": (
        "Real mocap: the Bandai sample",
        "The cell of the Bandai combination table with the best R-precision top-3 and MM-Dist "
        "(RVQ 2x512 tokenizer + a 1.1M-parameter prefix-LM with a learned text encoder, 800 + "
        "400 steps on the 120 training clips of 40 to 199 frames; made by `motionkit bench "
        "--suite combinations --data data/bandai`), for six captions of held-out test clips "
        "(\u201ca person bows heavily.\u201d, \u201ca person waves bye-bye sadly.\u201d, "
        "\u201ca person dashes forward happily.\u201d, \u201ca person guides someone with a "
        "hand gesture timidly.\u201d, \u201ca person runs proudly.\u201d, \u201ca person "
        "walks backward wearily.\u201d, one per line in `captions.txt`), top-k 20, unedited. "
        "Regenerate with `motionkit generate runs/bench/combinations-bandai/generators/"
        "rvq-prefix-lm --prompts captions.txt --top-k 20 --out samples` then "
        "`python benchmarks/publish.py --gallery bandai samples`.",
    ),
}
GALLERY = ROOT / "docs" / "assets" / "gallery"


def gallery_import(section: str, source: Path) -> None:
    """Copy one section's samples (and, for the demo, its curves and scaling fit) into the docs.

    ``source`` is a ``motionkit generate`` folder (index.json and GIFs); for ``demo`` it is the
    ``make demo`` folder (samples/, run/curves.png, scaling-fit.png).
    """
    import json

    samples = source / "samples" if section == "demo" else source
    index = json.loads((samples / "index.json").read_text(encoding="utf-8"))
    folder = GALLERY / section
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    items = [i for i in index["samples"] if "gif" in i.get("files", {})]
    for item in items:
        shutil.copyfile(samples / item["files"]["gif"], folder / Path(item["files"]["gif"]).name)
    kept = [
        {k: item.get(k) for k in ("prompt", "seed", "frames")}
        | {"gif": Path(item["files"]["gif"]).name}
        for item in items
    ]
    (folder / "index.json").write_text(json.dumps({"samples": kept}, indent=2) + "\n")
    if section == "demo":
        shutil.copyfile(source / "run" / "curves.png", folder / "curves.png")
        shutil.copyfile(source / "scaling-fit.png", folder / "scaling-fit.png")


def gallery_page() -> None:
    """``docs/gallery.md`` from the sections present under docs/assets/gallery/."""
    import json

    lines = [
        "# Gallery",
        "",
        "Generated motion, unedited, with the caption, seed and length each sample was made",
        "with. Each section says which run made it and how to make it again.",
        "",
    ]
    for name, (title, intro) in GALLERY_SECTIONS.items():
        folder = GALLERY / name
        if not (folder / "index.json").is_file():
            continue
        lines += [f"## {title}", "", intro, ""]
        for item in json.loads((folder / "index.json").read_text(encoding="utf-8"))["samples"]:
            lines += [
                f"### \u201c{item['prompt']}\u201d",
                "",
                f"seed {item.get('seed')}, {item.get('frames', '?')} frames",
                "",
                f"![{item['prompt']}](assets/gallery/{name}/{item['gif']})",
                "",
            ]
        if (folder / "curves.png").is_file():
            lines += [
                "### The run's training curves and its scaling mini-fit",
                "",
                "`motionkit plot runs/demo/run` (tokenizer, then generator):",
                "",
                f"![training curves](assets/gallery/{name}/curves.png)",
                "",
                "`motionkit scaling fit runs/demo/sweep/runs/* --min-flops 1e10 --out "
                "runs/demo/scaling-fit.json` on the demo's three-shape sweep:",
                "",
                f"![scaling mini-fit](assets/gallery/{name}/scaling-fit.png)",
                "",
            ]
    (ROOT / "docs" / "gallery.md").write_text("\n".join(lines), encoding="utf-8")
    print("wrote docs/gallery.md")


def main() -> None:
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "--gallery":
        if sys.argv[2] not in GALLERY_SECTIONS:
            raise SystemExit(f"Error: gallery sections are {', '.join(GALLERY_SECTIONS)}")
        gallery_import(sys.argv[2], Path(sys.argv[3]))
    gallery_page()
    text, figures = render()
    ASSETS.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        shutil.copyfile(figure, ASSETS / figure.name)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE} and {len(figures)} figures")


if __name__ == "__main__":
    main()
