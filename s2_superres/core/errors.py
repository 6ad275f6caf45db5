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
