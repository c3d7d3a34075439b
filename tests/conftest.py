"""Shared fixtures: fake plugin distributions on sys.path and a clean registry per test."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from motionkit import registry


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test sees freshly discovered entry points and no remembered plugin failures."""
    monkeypatch.delenv(registry.DISABLE_PLUGINS_ENV, raising=False)
    registry.refresh()
    yield
    registry.refresh()


FakePlugin = Callable[..., Path]


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlugin]:
    """Install a fake distribution: a ``*.dist-info`` folder plus modules on ``sys.path``.

    ``fake_plugin("dist-name", {"motionkit.quantizers": {"name": "module:attr"}},
    {"module": "source"})`` returns the folder it wrote.
    """
    created: list[str] = []

    def make(
        dist: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
        summary: str = "A fake plugin for tests",
        version: str = "1.0",
    ) -> Path:
        root = tmp_path / f"site-{dist}"
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nSummary: {summary}\n"
        )
        lines = []
        for group, table in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {value}" for name, value in table.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)
        monkeypatch.syspath_prepend(str(root))
        registry.refresh()
        return root

    yield make
    for module in created:
        sys.modules.pop(module, None)


#: Source of a valid third-party quantizer config (torch-free at import).
FAKE_QUANTIZER = '''
from dataclasses import dataclass
from typing import ClassVar
from motionkit.config import option

@dataclass(frozen=True)
class FakeConfig:
    """A fake quantizer used by the tests."""
    size: int = option(4, help="number of codes")
    dim: int | None = option(None, help="latent width")
    PRESETS: ClassVar[dict] = {"tiny": {"size": 2, "dim": 16}}

    def build(self, dim=None):
        raise NotImplementedError("the fake quantizer is never built")
'''
