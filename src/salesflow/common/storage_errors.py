"""Storage that refuses writes (read-only, full, no permission), said in one line.

Such an error is infrastructure, not a bug: the user needs the path and the cause, not the
130 lines of tracebacks it once printed. It reaches us as a Python ``OSError`` or as text inside
a delta-rs / object_store error ("... Read-only file system (os error 30)"), so both are read.
"""

from __future__ import annotations

import errno
import re

from salesflow.errors import exception_chain

CAUSES = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
_NATIVE = re.compile(r"(?P<path>(?:/|[a-z0-9]+://)[^\s:]+?)(?:#\d+)?:[^/]*?\(os error (?P<code>\d+)\)")


def storage_failure(exc: BaseException) -> str | None:
    """One line naming the path and the cause when ``exc`` (or what it was raised from) is a
    storage refusal; None otherwise."""
    for current in exception_chain(exc):
        line = _from_os_error(current) or _from_text(str(current))
        if line:
            return line
    return None


def _from_os_error(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno in CAUSES:
        where = exc.filename or "the lake"
        return _line(str(where), exc.errno)
    return None


def _from_text(text: str) -> str | None:
    for found in _NATIVE.finditer(text):
        code = int(found["code"])
        if code in CAUSES:
            return _line(found["path"], code)
    return None


def _line(path: str, code: int) -> str:
    return (f"cannot write {path}: {CAUSES[code]} (os error {code}); what was committed before "
            "stays, and a rerun goes on from there once the storage takes writes")
