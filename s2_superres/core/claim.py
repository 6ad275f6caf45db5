"""Claim a path for one process, and find the files a dead process left behind.

A run claims its output with a lock file beside it (``<output>.lock``, created with O_EXCL) that holds the
owner's process id and host; a second run to the same path is refused while the owner lives. Hidden temporary
files carry the same owner in their name (:func:`temp_path`), so a later run in the folder removes those of a
process that is gone (killed with SIGKILL, or a machine that lost power): :func:`remove_abandoned`. Files of
another host (a shared network folder) are never judged: their process cannot be checked from here.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import sys
import uuid
from pathlib import Path

from .errors import OutputError

#: this machine, short (in temporary file names): the first 6 hex digits of the host name's sha256
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
#: ``.<name>.<pid>@<host>-<token>.<kind>.tif`` and GDAL's side files of it (.aux.xml, .ovr, .ovr.tmp ...)
TEMP_NAME = re.compile(r"^\..+\.(\d+)@([0-9a-f]{6})-[0-9a-f]{8}\.[a-z]+\.tif(\..*)?$")
LOCK_SUFFIX = ".lock"


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":   # os.kill(pid, 0) would send CTRL_C_EVENT there
        import ctypes
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)   # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259   # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's live process
        return True
    return True


def temp_path(path: Path, kind: str) -> Path:
    """A hidden temporary file beside ``path`` that names this process: ``.<stem>.<pid>@<host>-<token>.<kind>.tif``."""
    return path.with_name(f".{path.stem}.{os.getpid()}@{HOST}-{uuid.uuid4().hex[:8]}.{kind}.tif")


def remove_abandoned(folder: Path) -> list[Path]:
    """Remove the hidden temporary files (:func:`temp_path`) and lock files in ``folder`` whose owning process on
    this machine is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        owner = (int(match[1]), match[2]) if match else _lock_owner(entry) if entry.name.endswith(LOCK_SUFFIX) else None
        if owner and owner[1] == HOST and not pid_alive(owner[0]):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


class PathLock:
    """An exclusive claim on ``path`` while a run writes it (a file, or a batch's output folder): the lock file
    holds '<pid> <host>'. A lock whose owner is gone is taken over; a live one is refused at once with
    OutputError. A context manager."""

    def __init__(self, path: Path, what: str = "run", lock: Path | None = None):
        """``what`` names the claimant in the refusal; ``lock`` is the lock file (default ``<path>.lock``)."""
        self.path, self.what = Path(path), what
        self.lock = Path(lock) if lock else Path(str(path) + LOCK_SUFFIX)
        self.held = False

    def acquire(self) -> "PathLock":
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _lock_owner(self.lock)
                if owner is None or owner[1] != HOST or pid_alive(owner[0]):
                    who = f"process {owner[0]}" if owner else "another process"
                    raise OutputError(f"'{self.path}' is in use by another {self.what} ({who}; lock file "
                                      f"'{self.lock}'). Wait for it to finish or choose another output; if no such "
                                      "run exists, delete the lock file.") from None
                self.lock.unlink(missing_ok=True)   # its owner was killed
                continue
            except OSError as exc:
                raise OutputError(f"Cannot create the lock file '{self.lock}' ({exc.strerror}). Check that the "
                                  "folder exists and is writable.") from None
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {HOST}\n")
            self.held = True
            return self
        raise OutputError(f"'{self.path}' is being claimed by another {self.what} right now; try again.")

    def release(self) -> None:
        if self.held:
            self.lock.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "PathLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_owner(lock: Path) -> tuple[int, str] | None:
    """(pid, host) written in a lock file, or None when it cannot be read (still being written)."""
    try:
        pid, host = lock.read_text().split()
        return int(pid), host
    except (OSError, ValueError):
        return None
