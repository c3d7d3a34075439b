"""The results page of the docs is assembled from benchmarks/results and must match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _publish():
    spec = importlib.util.spec_from_file_location("publish", ROOT / "benchmarks" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_page_matches_the_recorded_results():
    publish = _publish()
    text, figures = publish.render()
    assert publish.PAGE.read_text(encoding="utf-8") == text, (
        "docs/results.md is stale: run python benchmarks/publish.py"
    )
    for figure in figures:
        copy = publish.ASSETS / figure.name
        assert copy.read_bytes() == figure.read_bytes(), f"{copy} is stale"
    assert "## Scaling laws at CPU scale" in text
