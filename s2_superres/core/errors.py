"""Errors a user can meet. Each message names the problem and what to do about it."""
from __future__ import annotations


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


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP; the CLI installs the handlers) ended the run; it cleans up as
    Ctrl-C does. ``signum`` is the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
