"""Run configurations that ship with motionkit, usable as ``--config NAME``.

Each is a TOML file in this folder in the shape of a saved ``config.json`` (see
``motionkit.config.run``); ``motionkit list configs`` lists them with their first comment line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def packaged_configs() -> dict[str, Path]:
    """Name -> path of every packaged config (``demo.toml`` is ``demo``)."""
    folder = resources.files(__name__)
    return {
        Path(item.name).stem: Path(str(item))
        for item in folder.iterdir()
        if item.name.endswith(".toml")
    }


def describe(path: Path) -> str:
    """The first comment line of a packaged config."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
