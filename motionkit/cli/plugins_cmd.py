"""``motionkit plugins``: installed plugin distributions and what each adds."""

from __future__ import annotations

import click
from rich.table import Table

from motionkit.cli import console
from motionkit.registry import REGISTRIES, plugins_enabled


@click.command("plugins")
@click.option("--check", is_flag=True, help="Import every plugin component and report failures.")
def plugins(check: bool) -> None:
    """Show installed plugin distributions and the components each one adds.

    Plugins register through the entry-point groups motionkit.quantizers, motionkit.backbones,
    motionkit.text_encoders, motionkit.datasets, motionkit.metrics and motionkit.commands.
    Set MOTIONKIT_DISABLE_PLUGINS=1 to turn plugin loading off.
    """
    if not plugins_enabled():
        console.err.print("plugins are disabled (MOTIONKIT_DISABLE_PLUGINS is set)")
        return
    by_dist: dict[tuple[str, str], list[str]] = {}
    status: dict[tuple[str, str], list[str]] = {}
    summaries: dict[tuple[str, str], str] = {}
    for registry in REGISTRIES.values():
        duplicates = registry.duplicates()
        for entry in registry.entries():
            if entry.builtin:
                continue
            key = (entry.source, entry.version)
            summaries[key] = entry.description
            by_dist.setdefault(key, []).append(f"{registry.singular} {entry.name}")
            if check:
                problem = "conflict" if entry.name in duplicates else _load_problem(registry, entry)
                if problem:
                    status.setdefault(key, []).append(f"{entry.name}: {problem}")
    if not by_dist:
        console.out.print("no plugins installed")
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("distribution", "version", "adds", "summary"):
        table.add_column(column, style="bold" if column == "distribution" else None)
    if check:
        table.add_column("status")
    for key in sorted(by_dist):
        row = [key[0], key[1], ", ".join(by_dist[key]), summaries[key]]
        if check:
            row.append("; ".join(status.get(key, [])) or "ok")
        table.add_row(*row)
    console.out.print(table)
    if status:
        from motionkit.errors import PluginLoadError

        failed = sum(len(problems) for problems in status.values())
        raise PluginLoadError(
            f"{failed} plugin component(s) failed to load (see the status column above); "
            "reinstall or uninstall the distribution, or set MOTIONKIT_DISABLE_PLUGINS=1"
        )


def _load_problem(registry, entry) -> str:
    from motionkit.errors import MotionkitError

    try:
        registry.get(entry.name)
    except MotionkitError as exc:
        return str(exc).rpartition(": ")[2] or "failed to load"
    return ""
