"""Errors a user can meet. Each message names the problem and what to do about it."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable


class UserError(Exception):
    """Bad input or environment: the message is shown as is, without a traceback."""


class InputError(UserError):
    """The input raster(s) cannot be used as a Sentinel-2 product."""


class ExtentError(UserError):
    """The requested extent cannot be processed."""


class OutputError(UserError):
    """The output cannot be written."""


class Cancelled(Exception):
    """The run was cancelled by the user; nothing was written."""


def printable(text: object) -> str:
    """``text`` safe to print on a terminal or show in a dialog: control characters (escape codes, carriage
    returns, bidi overrides) written as ``\\x1b``-style escapes; newlines and tabs kept. Used for every name or
    href taken from a document or file before it is shown."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\n\t" or not (code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E
                                or 0x2066 <= code <= 0x2069):
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP; the CLI installs the handlers) ended the run; it cleans up as
    Ctrl-C does. ``signum`` is the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_scope = threading.local()


@contextmanager
def cancellable(is_cancelled: Callable[[], bool] | None):
    """Within this block, long steps of this thread (model passes, onnxruntime runs, the COG copy) stop with
    Cancelled soon after ``is_cancelled()`` turns true (cancel_requested, check_cancelled)."""
    previous = getattr(_scope, "is_cancelled", None)
    _scope.is_cancelled = is_cancelled
    try:
        yield
    finally:
        _scope.is_cancelled = previous


def cancel_check() -> Callable[[], bool] | None:
    """The is_cancelled of this thread's run (core.errors.cancellable), None outside one."""
    return getattr(_scope, "is_cancelled", None)


def cancel_requested() -> bool:
    check = cancel_check()
    return bool(check and check())


def check_cancelled() -> None:
    """Raise Cancelled when this thread's run was cancelled (called between long steps inside a tile)."""
    if cancel_requested():
        raise Cancelled()
