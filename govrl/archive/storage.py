"""Where an archive keeps its bytes: a small interface by key, and its backends.

Keys are relative, '/'-separated paths (``log.jsonl``, ``objects/sha256/ab/cd…``).
A folder is the archive of record; a zip bundle is read through the same methods.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath

from govrl.atomicfile import locked, sync_dir, write_atomic
from govrl.errors import EnvironmentFailure, InputError, Problem, UsageError

LOCK_KEY = "log.jsonl"
MAX_MEMBER = 1 << 30  # no archived document comes near; a zip bomb would


class Storage(ABC):
    """Bytes by key; ``write`` is atomic and ``append`` durable, or the archive is not."""

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The bytes under ``key``; KeyError when there are none."""

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``: a reader sees the old bytes or the new, never half."""

    @abstractmethod
    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` at the end of ``key`` and make it durable before returning."""

    @abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with ``prefix``, in no particular order."""

    @abstractmethod
    def remove(self, key: str) -> None:
        """Forget ``key``; no error when it is already gone."""

    def locked(self) -> AbstractContextManager[None]:
        """Keep every other writer of this archive out while held."""
        return contextlib.nullcontext()

    def tail(self, key: str, size: int) -> bytes:
        """The last ``size`` bytes under ``key`` (all of them when there are fewer)."""
        return self.read(key)[-size:]

    def exists(self, key: str) -> bool:
        try:
            self.read(key)
        except KeyError:
            return False
        return True

    def where(self, key: str = "") -> str:
        """A human-readable location for messages."""
        return key


def _checked(key: str) -> str:
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or ".." in parts or "\\" in key:
        raise UsageError(f"not a valid archive key: {key!r}")
    return key


class DirectoryStorage(Storage):
    """A plain folder: one file per key, an flock on a sidecar file as the writer lock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def where(self, key: str = "") -> str:
        return str(self._path(key)) if key else str(self.root)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            raise EnvironmentFailure(f"{self._path(key)}: cannot read: {exc.strerror}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def tail(self, key: str, size: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - size))
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            raise EnvironmentFailure(f"{self._path(key)}: cannot read: {exc.strerror}") from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self._mkdir(path.parent)
        write_atomic(path, data)

    def append(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self._mkdir(path.parent)
        created = not path.exists()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                sync_dir(path.parent)
        except OSError as exc:
            raise EnvironmentFailure(f"{path}: cannot append: {exc.strerror}") from None

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            yield prefix
            return
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            relative = Path(folder).relative_to(self.root).as_posix()
            for name in sorted(files):
                yield name if relative == "." else f"{relative}/{name}"

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def locked(self) -> AbstractContextManager[None]:
        self._mkdir(self.root)
        return locked(self.root / LOCK_KEY)

    def _mkdir(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentFailure(f"{folder}: cannot create: {exc.strerror}") from None


class ZipStorage(Storage):
    """A bundle, read-only: names are read in place and never extracted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            self.names = [i.filename for i in self._zip.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError([Problem(f"not a readable zip bundle: {exc}", str(path))]) from None

    def where(self, key: str = "") -> str:
        return f"{self.path}:{key}" if key else str(self.path)

    def read(self, key: str) -> bytes:
        try:
            if self._zip.getinfo(key).file_size > MAX_MEMBER:
                raise CorruptMember(key, f"larger than {MAX_MEMBER >> 20} MiB unpacked")
            return self._zip.read(key)
        except KeyError:
            raise KeyError(key) from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            # A damaged member is reported like a changed one: its bytes are not the bytes listed.
            raise CorruptMember(key, str(exc)) from None

    def exists(self, key: str) -> bool:
        return key in self.names

    def keys(self, prefix: str = "") -> Iterator[str]:
        return iter(sorted({n for n in self.names if n.startswith(prefix)}))

    def write(self, key: str, data: bytes) -> None:
        raise UsageError(f"{self.path}: a bundle is read-only")

    def append(self, key: str, data: bytes) -> None:
        raise UsageError(f"{self.path}: a bundle is read-only")

    def remove(self, key: str) -> None:
        raise UsageError(f"{self.path}: a bundle is read-only")

    def close(self) -> None:
        self._zip.close()


class CorruptMember(Exception):
    """A zip member that cannot be decompressed (its CRC or deflate stream is broken)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
