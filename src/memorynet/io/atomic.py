"""Atomic file writes: temporary files in a folder beside the target, fsync, then rename over the target."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO


def _mode_for(path: Path) -> int:
    """The existing file's permissions, else the default for new files under the current umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_leftovers(path: Path) -> None:
    """Delete temporary files of earlier saves to ``path`` whose process no longer exists (killed mid-save)."""
    for leftover in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        pid = Path(leftover).name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                Path(leftover).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_file(staged: Path, target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fh)`` on the new file ``staged`` (with the permissions ``target`` has or would get), flushed
    to disk; a full disk is reported with ``target``."""
    try:
        with open(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            os.fchmod(fh.fileno(), _mode_for(target))  # the permissions a plain open() of target would give
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"no space left on the device to write {target}") from exc
        raise


def atomic_write_all(files: Sequence[tuple[str | os.PathLike, Callable[[BinaryIO], object]]],
                     check: Callable[[list[Path]], object] | None = None) -> list[Path]:
    """Write each ``(path, write)`` (paths in one folder) under its own name into a temporary folder beside them,
    call ``check`` on those complete files (it raises to refuse them), then rename them over their paths in the
    order given (put the file readers open first, last).

    On error no path is touched and the temporary folder is removed; see ``atomic_write``.
    """
    paths = [Path(path) for path, _ in files]
    if len({path.parent for path in paths}) != 1:
        raise ValueError(f"atomic_write_all writes into one folder, got {[str(path) for path in paths]}")
    folder = paths[0].parent
    _remove_leftovers(paths[0])
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{paths[0].name}.{os.getpid()}.", suffix=".tmp"))
    try:
        staged = [staging / path.name for path in paths]
        for target, temporary, (_, write) in zip(paths, staged, files):
            _write_file(temporary, target, write)
        if check is not None:
            check(staged)
        for temporary, target in zip(staged, paths):
            os.replace(temporary, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the renames themselves durable
    finally:
        os.close(dir_fd)
    return paths


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(fh)`` on a temporary file (in a temporary folder beside ``path``) and rename it to ``path`` once
    complete.

    Readers see either the old file or the whole new one, never a half-written file; on error the
    temporary folder is removed and ``path`` is untouched. Temporary folders (or files, of earlier versions) left by
    a killed save (their process gone) are removed on the next save to ``path``; a full disk is reported with the
    path.
    """
    return atomic_write_all([(path, write)])[0]
