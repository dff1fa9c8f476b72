"""The one redaction layer: secret values and credential shapes never reach a terminal or a log.

Two kinds of things are masked in any text that leaves the process (log lines, error messages,
tracebacks, ``status``, ``config show``, ``/metrics``, the collector's answers):

* **Known secret values**, registered when the settings are loaded (every ``SecretStr``, every
  value of a free-form map under a secret-like key, the API tokens a source names, environment
  variables with secret-like names) and replaced wherever they appear, whole or URL-encoded.
* **Credential shapes**, whatever their origin: the password of any URL's userinfo
  (``scheme://user:password@host``, any scheme, an unencoded ``@`` in the password included) and
  ``password=`` / ``pwd=`` / ``token=`` / ``secret=`` / ``api_key=`` parameters of URLs, libpq DSNs
  and JDBC strings.

Everything here is deliberately free of salesflow imports: it sits at the bottom of the tree and
every layer may use it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked by value (masking "1" or "abc" everywhere would garble output);
they are still masked where they sit in a credential shape."""

# A key is secret-like when it names a password, secret, token, credential or key; keys that only
# point at a secret (a file path, an environment variable's name, an id) are not.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|credential|private|key|authorization|cookie", re.IGNORECASE
)
_REFERENCE_KEY = re.compile(r"(location|path|file|env|_id|\.id|name|type|mechanism|protocol)$", re.IGNORECASE)
NON_SECRET_KEYS = frozenset({
    "access_key_id", "aws_access_key_id", "spark.hadoop.fs.s3a.access.key", "fs.s3a.access.key",
    "key_prefix", "api_keys",
})
"""Documented exceptions: these keys hold identifiers, not secrets (an access key's id, the
collector's map of key names to SHA-256 hashes)."""

_URL_USERINFO = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"<>]*:)(?P<secret>[^\s'\"<>/]*)(?P<tail>@[^\s@/'\"<>]*)",
    re.ASCII)  # ASCII blanks end a URL; any other character may be part of a password
_PARAM_KEY = (r"(?P<head>\b[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|"
              r"private[_\-]?key)[\w.\-]*\s*=\s*)")
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_PARAM = re.compile(_PARAM_KEY + r"(?P<secret>" + _QUOTED + r"|[^\s&;,'\")]+)", re.IGNORECASE | re.ASCII)
"""In text: a value ends where a URL query, a list or a sentence would end it."""
_DSN_PARAM = re.compile(_PARAM_KEY + r"(?P<secret>" + _QUOTED + r"|\S+)", re.IGNORECASE | re.ASCII)
"""In a libpq DSN given as a secret: a value runs to the next blank."""
_PARAM_HINT = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """True for keys that hold a secret by their name (``sasl.password``, ``aws_secret_access_key``)."""
    lowered = key.lower()
    if lowered in NON_SECRET_KEYS:
        return False
    return bool(_SECRET_KEY.search(lowered)) and not _REFERENCE_KEY.search(lowered)


class Redactor:
    """The registry of secret values and the masking of text; one per process (``REDACTOR``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *values: str | None) -> None:
        """Register secret values; each is also masked URL-encoded, and a URL's or DSN's password alone."""
        found: set[str] = set()
        for value in values:
            if not value:
                continue
            # A URL or DSN with credentials in it: the credentials are the secret, and its host and
            # database stay readable in messages. Anything else (a token, a webhook URL) is whole.
            parts = [p for p in _embedded_secrets(value) if len(p) >= MIN_SECRET_LENGTH] or [value]
            for part in parts:
                found |= {part, quote(part, safe=""), quote_plus(part)}
        with self._lock:
            if found - self._values:
                self._values |= found
                # Longest first, so a URL is masked whole before its password alone.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def add_environment(self, environ: dict[str, str] | os._Environ[str] | None = None) -> None:
        """Values of environment variables whose names are secret-like (PGPASSWORD, *_SECRET_*)."""
        env = os.environ if environ is None else environ
        # Only values that could be a credential: a variable named *_KEY may just as well hold "1" or
        # "production", and masking every "production" in the output would garble it.
        self.add(*(value for name, value in env.items()
                   if is_secret_key(name.rsplit("__", 1)[-1]) and _could_be_credential(value)))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret and every credential shape masked."""
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if "://" in text:
            text = _URL_USERINFO.sub(lambda m: m["head"] + MASK + m["tail"], text)
        if "=" in text and _PARAM_HINT.search(text):
            text = _PARAM.sub(lambda m: m["head"] + MASK, text)
        return text


def _could_be_credential(value: str) -> bool:
    return len(value) >= 8 and not value.isalpha() and not value.isdigit() and not value.startswith("/")


def _embedded_secrets(value: str) -> list[str]:
    """The password of a URL's userinfo and of ``password=`` parameters inside a secret value."""
    parts = [m["secret"] for m in _URL_USERINFO.finditer(value)]
    try:
        url = urlsplit(value)
        parts.append(url.password or "")
        parts += [v for k, v in parse_qsl(url.query) if is_secret_key(k)]
        # As written too: parse_qsl reads '+' as a space, libpq keeps it ("00+)0000" quoted back whole).
        pairs = (pair.partition("=") for pair in url.query.split("&"))
        raw = [(k, v) for k, _, v in pairs if is_secret_key(unquote(k))]
        parts += [v for _, v in raw] + [unquote(v) for _, v in raw]
    except ValueError:  # not a URL at all
        pass
    params = _PARAM if "://" in value else _DSN_PARAM
    parts += [m["secret"].strip("'\"") for m in params.finditer(value)]
    # libpq splits an unencoded '@' or ':' in a password differently than a URL parser does, and
    # quotes the pieces back in its errors ("failed to resolve host 'rest@db'"): mask each piece.
    pieces = [piece for part in parts for piece in re.split(r"[@:]", part) if piece != part]
    return [p for p in parts + pieces if p]


REDACTOR = Redactor()


def redact(text: str) -> str:
    """Mask secrets in ``text`` with the process's registry."""
    return REDACTOR(text)


def register_secrets(values: Iterable[str | None]) -> None:
    REDACTOR.add(*values)


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter: the finished line (message, exception and stack included) is redacted."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class RedactingStream:
    """A text stream that redacts whole lines before they reach the stream it wraps.

    The process's last guard: whatever a library prints to stdout/stderr goes through it. Text is
    held until its line ends (or the stream is flushed), so a secret split over two writes is
    still seen whole.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            head, newline, rest = self._pending.rpartition("\n")
            if newline:
                self._inner.write(redact(head + newline))
                self._pending = rest
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._inner.write(redact(self._pending))
                self._pending = ""
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, buffer ... of the real stream
        return getattr(self._inner, name)


def format_exception(exc: BaseException) -> str:
    """A traceback as text, redacted (the top-level handlers print nothing else)."""
    return redact("".join(traceback.format_exception(exc)))


def install_process_guards() -> None:
    """Redact stdout, stderr and every uncaught exception (main thread and other threads)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(format_exception(exc.with_traceback(tb)))
        sys.stderr.flush()

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
            name = args.thread.name if args.thread else "thread"
            sys.stderr.write(f"Exception in {name}:\n{format_exception(args.exc_value)}")
            sys.stderr.flush()

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
