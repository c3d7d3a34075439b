"""``motionkit list [KIND] [--options NAME]``: registered components, their sources and options."""

from __future__ import annotations

import dataclasses

import click
from rich.markup import escape
from rich.table import Table

from motionkit.cli import console
from motionkit.registry import REGISTRIES, get_registry


@click.command("list")
@click.argument("kind", required=False)
@click.option(
    "--options",
    "options_of",
    metavar="NAME",
    help="Print the config fields of component NAME (defaults, types, help) and its presets.",
)
def list_components(kind: str | None, options_of: str | None) -> None:
    """List registered components: name, source distribution, one-line description.

    KIND is one of quantizers, backbones, text_encoders, datasets, metrics, commands (singular
    forms work too), or configs (the run configurations usable as --config NAME). Listing
    imports no plugin code.
    """
    if kind in ("configs", "config"):
        _print_configs()
        return
    registries = [get_registry(kind)] if kind else list(REGISTRIES.values())
    if options_of is not None:
        _print_options(registries, options_of)
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    if len(registries) > 1:
        table.add_column("kind", style="cyan")
    for column in ("name", "source", "description"):
        table.add_column(column, style="bold" if column == "name" else None)
    for registry in registries:
        duplicates = registry.duplicates()
        for entry in registry.entries():
            name = entry.name + (" (conflict)" if entry.name in duplicates else "")
            source = entry.source if entry.builtin else f"{entry.source} {entry.version}"
            row = [escape(name), escape(source), escape(entry.description)]
            table.add_row(*([registry.kind, *row] if len(registries) > 1 else row))
        if not registry.entries() and len(registries) == 1:
            console.err.print(f"no {registry.kind} registered")
    console.out.print(table)


def _print_configs() -> None:
    from motionkit.configs import describe, packaged_configs

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("name", "description"):
        table.add_column(column, style="bold" if column == "name" else None)
    for name, path in sorted(packaged_configs().items()):
        table.add_row(escape(name), escape(describe(path)))
    console.out.print(table)


def _print_options(registries: list, name: str) -> None:
    from motionkit.config.fields import config_fields, presets, suggest
    from motionkit.errors import UnknownComponentError
    from motionkit.registry import summary_line

    matches = [r for r in registries if r.kind != "commands" and name in r.names()]
    if not matches:
        if len(registries) == 1:
            registries[0].entry(name)  # raises the unknown-name error with suggestions
        known = sorted({n for r in registries if r.kind != "commands" for n in r.names()})
        raise UnknownComponentError(
            f"no component called {name!r}{suggest(name, known)} (known: {', '.join(known)})"
        )
    for registry in matches:
        entry = registry.entry(name)
        cls = registry.get(name)
        console.out.print(
            f"[bold]{registry.singular} {escape(name)}[/bold] from {escape(entry.label())}: "
            f"{escape(summary_line(cls))}"
        )
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("option", "type", "default", "help"):
            table.add_column(column, style="bold" if column == "option" else None)
        for field in config_fields(cls):
            default = field.default
            shown = "-" if default is None else _format_value(default)
            if default is dataclasses.MISSING:
                shown = "(required)"
            option_name = "--" + field.name.replace("_", "-")
            table.add_row(option_name, escape(field.type_label), escape(shown), escape(field.help))
        console.out.print(table)
        table = Table(box=None, pad_edge=False, show_edge=False)
        table.add_column("preset", style="bold")
        table.add_column("sets")
        for preset, values in presets(cls).items():
            body = ", ".join(f"{k}={_format_value(v)}" for k, v in values.items())
            table.add_row(escape(f"{name}:{preset}"), escape(body))
        console.out.print(table)


def _format_value(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
