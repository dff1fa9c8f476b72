"""Reading partner files without letting a drop folder be turned against the host.

A drop folder is written by someone else. Only regular files are read: a symbolic link is refused
unless the source says ``follow_symlinks: true``, and even then never into ``/proc``, ``/sys`` or
``/dev`` (``/proc/self/environ`` is a "regular" file holding every secret of the process). A FIFO,
socket or device is refused without being opened for reading in a way that could block. The checks
are made on the open descriptor (``O_NOFOLLOW``, ``fstat``), not on the path beforehand, so a file
swapped for a link between the check and the read is still refused.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

from salesflow.errors import ContractError

SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
"""Pseudo file systems: never partner data, and reading them can leak the host's secrets."""


class FileNotSettled(Exception):
    """The file may still be growing (or its folder lacks its completion marker): not read now; a
    later run takes it whole. Not an error."""


class FileRejected(ContractError):
    """The whole file was refused (not a regular file, wrong header, undecodable text); nothing of
    it was loaded."""

    exit_code = 2


def read_confined(path: Path, follow_symlinks: bool, settle_seconds: float = 0.0) -> bytes:
    """The bytes of a regular file at ``path``; FileRejected for anything else, FileNotSettled for a
    file modified within ``settle_seconds`` or changed while it was read (a writer is still at it)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRejected(_open_refusal(path, exc)) from None
    try:
        before = os.fstat(fd)
        kind = _kind(before.st_mode)
        if kind != "regular file":
            raise FileRejected(f"{path}: a {kind}, not a regular file; not read")
        if _special(path):
            raise FileRejected(f"{path}: resolves into {', '.join(SPECIAL_ROOTS)}; partner files are never read there")
        age = time.time() - before.st_mtime
        if age < settle_seconds:
            raise FileNotSettled(f"{path}: modified {age:.0f} s ago; read once unchanged for {settle_seconds:g} s")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
        after = os.fstat(handle.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != after.st_size:
        raise FileNotSettled(f"{path}: changed while it was read; read on a later run")
    return data


def _open_refusal(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return (f"{path}: a symbolic link; not followed (set the source's follow_symlinks: true to read "
                f"links to regular files)")
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file"
    return f"{path}: cannot be opened ({os.strerror(exc.errno or 0)})"


def _special(path: Path) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root + "/") for root in SPECIAL_ROOTS)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def incomplete_folder(path: Path, marker: str | None) -> bool:
    """True when the source waits for a completion marker (``_SUCCESS``) the file's folder lacks."""
    return marker is not None and not (path.parent / marker).is_file()


def drop_entries(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for its entries in name order (hidden ones and
    sub-directories skipped). Links and special files are listed too, so each is refused with its
    reason instead of vanishing without a word."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            with os.scandir(path) as entries:
                found.extend(Path(e.path) for e in sorted(entries, key=lambda e: e.name)
                              if not e.name.startswith(".") and not e.is_dir(follow_symlinks=False))
        else:
            found.append(path)
    return found
