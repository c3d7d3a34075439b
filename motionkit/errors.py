"""Exceptions and warnings that motionkit raises for bad input.

Every error a user can cause (a malformed option, an unknown component name, a corrupt file) is a
subclass of ``MotionkitError``. The command line prints such errors as one line and exits with
a non-zero status; anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class MotionkitError(Exception):
    """An error caused by input: its message says what is wrong and how to fix it."""

    exit_code = 1


class ConfigError(MotionkitError):
    """A configuration value, file or command-line option is invalid."""

    exit_code = 2


class UnknownComponentError(MotionkitError, KeyError):
    """A component name is not in its registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateComponentError(MotionkitError):
    """Two sources register a component of the same kind under one name."""


class PluginLoadError(MotionkitError):
    """A plugin's entry point could not be imported or is not a valid component."""


class MotionkitWarning(UserWarning):
    """Base class of the warnings motionkit emits (shown as one line on the command line)."""


class PluginWarning(MotionkitWarning):
    """A plugin failed to load; the rest of motionkit keeps working."""


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Candidates close to ``name``, best first (typos and swapped letters rank highest)."""
    import difflib

    limit = max(1, len(name) // 3)
    scored = sorted((d, c) for c in set(candidates) if (d := _edit_distance(name, c)) <= limit)
    found = [c for _, c in scored]
    for c in difflib.get_close_matches(name, candidates, n=n, cutoff=0.6):
        if c not in found:
            found.append(c)
    return found[:n]


def did_you_mean(name: str, candidates: list[str]) -> str:
    """``"; did you mean 'x'?"`` for close matches of ``name``, else an empty string."""
    close = close_matches(name, candidates)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class TrainingInterrupted(MotionkitError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint (resume with --resume)."""

    exit_code = 130

    def __init__(self, message: str, step: int, signal_name: str) -> None:
        super().__init__(message)
        self.step = step
        self.signal_name = signal_name
        self.exit_code = 130 if signal_name == "SIGINT" else 143
