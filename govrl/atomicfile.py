"""Atomic, locked file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from govrl.errors import EnvironmentFailure, LockTimeout

LOCK_TIMEOUT_S = 10.0


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive advisory lock for ``path`` (on a sidecar file, so the
    lock survives the rename that replaces ``path``)."""
    target = lock_path(path)
    try:
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise EnvironmentFailure(f"{target}: cannot create lock file: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{path}: another govrl process has held it for {timeout:.0f} s",
                        hint="wait for it to finish, or remove a stale lock: " + str(target),
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a synced temp file in the same folder and a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise EnvironmentFailure(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise EnvironmentFailure(f"{path}: cannot write: {exc.strerror}") from None
        raise
    sync_dir(folder)


def sync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (best effort where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
