"""The ``motionkit`` command line (click).

Commands load lazily: ``motionkit --help`` imports no command module and no plugin, and no command
imports torch until it builds a model. Plugin distributions add commands through the
``motionkit.commands`` entry-point group. Errors caused by input print as one line
(``Error: ...``) with a non-zero exit status and no traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import click

from motionkit import __version__
from motionkit.errors import MotionkitError, MotionkitWarning

#: Built-in commands: name -> ("module:attribute", one-line help shown by ``motionkit --help``).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("motionkit.cli.bench_cmd:bench", "Run a benchmark suite end to end."),
    "check": ("motionkit.cli.check_cmd:check", "Build every component's tiny preset and test it."),
    "data": ("motionkit.cli.data_cmd:data", "Make, convert and inspect motion datasets."),
    "eval": (
        "motionkit.cli.eval_cmd:eval_command",
        "Evaluate a generator: R-precision, FID, MM-Dist, Diversity, MultiModality.",
    ),
    "eval-tokenizer": (
        "motionkit.cli.tokenizer_cmd:eval_tokenizer",
        "Measure a trained tokenizer (L1, MPJPE, usage, perplexity).",
    ),
    "evaluator": (
        "motionkit.cli.evaluator_cmd:evaluator",
        "Train evaluators that score generated motion.",
    ),
    "generate": (
        "motionkit.cli.generate_cmd:generate",
        "Generate motion from captions with a trained generator.",
    ),
    "list": ("motionkit.cli.list_cmd:list_components", "List registered components and options."),
    "plot": ("motionkit.cli.plot_cmd:plot", "Draw a run's training curves as a PNG."),
    "plugins": ("motionkit.cli.plugins_cmd:plugins", "Show installed plugin distributions."),
    "render": ("motionkit.cli.render_cmd:render", "Render joints, features or BVH as a GIF/MP4."),
    "scaling": (
        "motionkit.cli.scaling_cmd:scaling",
        "Fit scaling laws and predict the compute-optimal run.",
    ),
    "tokenize": (
        "motionkit.cli.tokenizer_cmd:tokenize",
        "Export token ids and unigram frequencies of a dataset.",
    ),
    "train": ("motionkit.cli.train_cmd:train", "Resolve a run configuration and train a stage."),
}


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print motionkit's own warnings as one line on stderr; others the usual way."""
    if issubclass(category, MotionkitWarning):
        click.secho(f"Warning: {message}", fg="yellow", err=True)
    else:
        _default_showwarning(message, category, *args, **kwargs)


_default_showwarning = warnings.showwarning


class LazyGroup(click.Group):
    """A group whose built-in and plugin commands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from motionkit.registry import commands

        return sorted(set(BUILTIN_COMMANDS) | set(commands.names()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS:
            module_name, _, attr = BUILTIN_COMMANDS[cmd_name][0].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        from motionkit.registry import commands

        if cmd_name not in commands.names():
            return None
        return commands.get(cmd_name)  # PluginLoadError / DuplicateComponentError are one-liners

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from motionkit.config.fields import suggest

            known = self.list_commands(ctx)
            raise click.UsageError(
                f"no such command {name!r}{suggest(name, known)} (commands: {', '.join(known)})",
                ctx=ctx,
            )
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from motionkit.registry import commands

        rows = [(name, help_text) for name, (_, help_text) in BUILTIN_COMMANDS.items()]
        for entry in commands.entries():
            if entry.name not in BUILTIN_COMMANDS:
                rows.append((entry.name, f"[{entry.source}] {entry.description}"))
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        standalone = extra.pop("standalone_mode", True)
        if not standalone:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.secho(f"Error: {exc.format_message()}{hint}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, MotionkitError) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            click.secho(f"Error: {message}", fg="red", err=True)
            sys.exit(getattr(exc, "exit_code", 1))
        except (click.Abort, KeyboardInterrupt):
            click.secho("Aborted.", fg="red", err=True)
            sys.exit(130)
        finally:
            warnings.showwarning = previous
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.version_option(__version__, "--version", "-V", prog_name="motionkit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """motionkit: motion tokenizers, text-to-motion generators and scaling laws.

    Components (quantizers, backbones, text encoders, datasets, metrics) come from registries that
    plugin packages extend; see 'motionkit list' and 'motionkit plugins'.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="motionkit")
