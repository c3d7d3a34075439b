"""Reading pickles of plain data (lists, dicts, str, int) without ever running code from the file.

A pickle can name any importable callable (``os.system``, ``builtins.eval``, ...) and have it called
while loading. Such calls reach the unpickler only through ``find_class`` (the ``GLOBAL`` /
``STACK_GLOBAL`` opcodes); ``persistent_load`` is the other hook, refused by default. Pickles of
built-in containers, strings and numbers need neither, so ``PlainDataUnpickler`` refuses every
global: a file with one fails with ``pickle.UnpicklingError`` before anything is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from motionkit.errors import MotionkitError

__all__ = ["PlainDataUnpickler", "load_plain_pickle", "loads_plain_pickle"]


class PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that resolves no globals: only built-in containers and scalars come back."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"refused to load global {module}.{name}: only plain lists, dicts, strings and "
            "numbers are accepted"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused a persistent id: only plain data is accepted")


def loads_plain_pickle(data: bytes) -> Any:
    """Unpickle ``data`` that must hold only plain built-in values (``pickle.UnpicklingError``
    and the usual decoding errors otherwise)."""
    return PlainDataUnpickler(io.BytesIO(data), encoding="utf-8").load()


def load_plain_pickle(path: Path, what: str) -> Any:
    """Unpickle a file of plain data; any failure is a one-line ``MotionkitError`` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MotionkitError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return loads_plain_pickle(data)
    except pickle.UnpicklingError as exc:
        raise MotionkitError(f"{what} {path} refused: {str(exc).splitlines()[0]}") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            UnicodeDecodeError, MemoryError, RecursionError) as exc:  # fmt: skip
        raise MotionkitError(
            f"{what} {path} is not a readable pickle ({type(exc).__name__}); is it corrupt?"
        ) from None
