"""Small file helpers: atomic writes, so that an interrupted run never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    Readers see either the old file or the complete new one, never a partial write.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, _file_mode(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _file_mode(target: Path) -> int:
    """The existing file's mode, else what ``open()`` would give a new file under the umask."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path`` (see ``atomic_write_bytes``)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def first_missing_ancestor(path: str | os.PathLike[str]) -> Path | None:
    """The outermost folder that creating ``path`` (with its parents) would create; ``None`` when
    ``path`` exists already."""
    target = Path(path)
    missing = None
    for candidate in (target, *target.parents):
        if os.path.lexists(candidate):
            break
        missing = candidate
    return missing


def remove_added(folder: Path, created: Path | None, existing: set[str]) -> None:
    """Undo what a failed command wrote: the folder ``created`` for it (its first missing
    ancestor, see ``first_missing_ancestor``), else the entries of ``folder`` that are not in
    ``existing``."""
    import shutil

    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    if not folder.is_dir():
        return
    for name in set(os.listdir(folder)) - existing:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def usable_cpus(limit: int | None = None) -> int:
    """The CPUs this process may run on (its affinity; the machine's count elsewhere), at least 1
    and at most ``limit``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus if limit is None else min(cpus, limit))


def check_output(
    path: str | os.PathLike[str],
    option: str = "--out",
    *,
    folder: bool = False,
    overwrite: bool = False,
) -> Path:
    """Refuse an output ``path`` that cannot be written, before any work is done.

    ``folder``: the output is a folder (it may exist as a folder); else a file, which must not
    exist unless ``overwrite``. Raises a one-line ``MotionkitError`` naming the path and the
    option; returns the path.
    """
    from motionkit.errors import MotionkitError

    target = Path(path)
    for parent in target.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise MotionkitError(
                    f"cannot write {target}: {parent} is a file, not a folder; choose another "
                    f"{option}"
                )
            if not os.access(parent, os.W_OK | os.X_OK) and not os.path.lexists(target):
                raise MotionkitError(
                    f"cannot write {target}: the folder {parent} is not writable; choose "
                    f"another {option}"
                )
            break
    if folder:
        if os.path.lexists(target) and not target.is_dir():
            raise MotionkitError(f"{option} {target} is a file, not a folder; choose a folder")
    elif target.is_dir():
        raise MotionkitError(f"{option} {target} is a folder; give a file name")
    elif os.path.lexists(target) and not overwrite:
        raise MotionkitError(
            f"{option} {target} already exists; choose a new {option} or delete it "
            "(nothing was overwritten)"
        )
    return target
