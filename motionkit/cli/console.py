"""Rich consoles shared by the commands: results on stdout, progress and notes on stderr."""

from __future__ import annotations

from rich.console import Console

#: Results (tables, JSON) go to stdout so they can be piped.
out = Console(highlight=False, soft_wrap=True)
#: Progress bars, notes and warnings go to stderr.
err = Console(stderr=True, highlight=False)
