"""Where an archive keeps its bytes: a small interface by key, and its backends.

Keys are relative, '/'-separated paths (``log.jsonl``, ``objects/sha256/ab/cd…``).
A folder is the archive of record; a zip bundle is read through the same methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath

from govrl.atomicfile import locked, sync_dir, write_atomic
from govrl.errors import EnvironmentFailure, InputError, Problem, UsageError

LOCK_KEY = "log.jsonl"
MAX_MEMBER = 256 << 20  # unpacked size of one bundle member: far above any approval's
MAX_INDEX = 64 << 20  # manifest, log, proofs: parsed in memory, so held tighter
_CHUNK = 1 << 20


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

    def digest(self, key: str) -> str:
        """``sha256:…`` of the bytes under ``key``; KeyError when there are none."""
        return "sha256:" + hashlib.sha256(self.read(key)).hexdigest()

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

    def digest(self, key: str) -> str:
        hasher = hashlib.sha256()
        try:
            with self._path(key).open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    hasher.update(chunk)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            raise EnvironmentFailure(f"{self._path(key)}: cannot read: {exc.strerror}") from None
        return "sha256:" + hasher.hexdigest()

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
    """A bundle, read-only and read in place: nothing is extracted, and no member is read
    before its name and unpacked size pass ``refusal``; ``refused`` names those that did not.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            members = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError([Problem(f"not a readable zip bundle: {exc}", str(path))]) from None
        self.refused = {i.filename: why for i in members if (why := refusal(i)) is not None}
        self.names = [
            i.filename for i in members if not i.is_dir() and i.filename not in self.refused
        ]

    def where(self, key: str = "") -> str:
        return f"{self.path}:{key}" if key else str(self.path)

    def _member(self, key: str, limit: int) -> zipfile.ZipInfo:
        if key in self.refused:
            raise CorruptMember(key, self.refused[key])
        info = self._zip.getinfo(key)  # KeyError when absent
        if info.file_size > limit:
            raise CorruptMember(
                key,
                f"{_size(info.file_size)} unpacked, over the limit of "
                f"{_size(limit)} for this member: refused, not read",
            )
        return info

    def read(self, key: str, limit: int = MAX_MEMBER) -> bytes:
        """The member's bytes, at most ``limit`` of them (its stated size bounds the read)."""
        info = self._member(key, limit)
        try:
            with self._zip.open(info) as member:
                return member.read()
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
            # A damaged member is reported like a changed one: its bytes are not the bytes listed.
            raise CorruptMember(key, str(exc)) from None

    def digest(self, key: str) -> str:
        """Hashed as it is unpacked, a megabyte at a time."""
        info = self._member(key, MAX_MEMBER)
        hasher = hashlib.sha256()
        try:
            with self._zip.open(info) as member:
                while chunk := member.read(_CHUNK):
                    hasher.update(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
            raise CorruptMember(key, str(exc)) from None
        return "sha256:" + hasher.hexdigest()

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


def refusal(info: zipfile.ZipInfo) -> str | None:
    """Why a bundle member is refused unread: a path that could leave the folder it is
    unpacked into, a link, encryption, an unexpected compression or too large a size."""
    name = info.filename
    parts = (name[:-1] if info.is_dir() else name).split("/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path: refused, not read"
    if "\\" in name:
        return "a path with backslashes (a Windows path): refused, not read"
    if ".." in parts or "\0" in name or "" in parts or "." in parts:
        return (
            "a path with a '..', '.' or empty segment (it could point outside the bundle): "
            "refused, not read"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link: refused, not read"
    if info.flag_bits & 0x1:
        return "encrypted: refused, not read"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compressed with method {info.compress_type} (only stored or deflated): refused"
    if info.file_size > MAX_MEMBER:
        return (
            f"{_size(info.file_size)} unpacked, over the {_size(MAX_MEMBER)} limit for a "
            f"member ({_size(info.compress_size)} packed): refused, not read"
        )
    return None


def _size(count: int) -> str:
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    return f"{count} bytes"


class CorruptMember(Exception):
    """A zip member that cannot be decompressed (its CRC or deflate stream is broken)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
