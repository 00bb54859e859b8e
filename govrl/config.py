"""Where trust anchors and pinned policies come from: flags, $GOVRL_TRUST, or a committed
govrl.toml.

A team commits one ``govrl.toml`` at the top of its repository::

    [trust]
    anchors = ["keys/org-ca.cert.pem"]

    [policy]
    pinned = ["policies/release.yaml"]

    [collect]
    mapping = "govrl/mapping.yaml"   # how the team's MLflow keys map into the record

Paths in it are relative to the file. For anchors, the first of flag,
environment and file that names any wins; for pinned policies, the flag
(`archive verify --policy`) wins over the file. The lower ones are not read. A
collect's ``--mapping`` wins over ``[collect] mapping`` and, when none is set, is
remembered there for the next collect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from govrl.errors import GovrlError, InputError, Problem, UsageError

CONFIG_FILE = "govrl.toml"
TRUST_ENV = "GOVRL_TRUST"
NO_TRUST_CHECK = "--no-trust-check"
MAX_CONFIG_BYTES = 64 * 1024
_TABLES = {"trust": {"anchors"}, "policy": {"pinned"}, "collect": {"mapping"}}

HOW_TO_TRUST = (
    "configure the CA certificates you trust, in one of these ways:\n"
    "  --trust ORG-CA.cert.pem                (repeatable)\n"
    f"  export {TRUST_ENV}=ORG-CA.cert.pem      (several separated by '{os.pathsep}')\n"
    f"  a {CONFIG_FILE} in this folder or a parent, committed once:\n"
    "      [trust]\n"
    '      anchors = ["keys/org-ca.cert.pem"]   # relative to the file\n'
    f"{NO_TRUST_CHECK} skips the check for an experiment, and every verdict then says so"
)


class ConfigError(InputError):
    """govrl.toml is not valid TOML, has an unknown key, or names a missing file."""


class NoTrustAnchors(GovrlError):
    """A command that judges trust found no anchors in a flag, the environment or a file."""


@dataclass(frozen=True)
class TrustRequest:
    """What the command line asked for: --trust files, or --no-trust-check."""

    flags: tuple[Path, ...] = ()
    skip: bool = False


@dataclass(frozen=True)
class TrustSetting:
    """The anchor files a verdict trusts and where they were configured; none when skipped."""

    paths: tuple[Path, ...]
    source: str

    @property
    def checked(self) -> bool:
        return bool(self.paths)


NOT_CHECKED = TrustSetting((), NO_TRUST_CHECK)


@dataclass(frozen=True)
class PinnedSetting:
    """The policy files an organisation pins, and where they were configured."""

    paths: tuple[Path, ...]
    source: str


def find_config(start: Path) -> Path | None:
    """The nearest govrl.toml at or above ``start``, not above a repository's top folder."""
    folder = start.resolve()
    while True:
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def _read_config(path: Path) -> tuple[dict[str, object], str]:
    """govrl.toml's tables and text, every table and key checked to be one govrl knows."""
    import tomllib

    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror}", where)]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError([Problem(f"is larger than {MAX_CONFIG_BYTES} bytes", where)])
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(f"not UTF-8 text (byte {exc.start})", where)]) from None
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else None
        if line is None and "(at end of document)" in str(exc):
            line = max(1, len(text.splitlines()))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ConfigError([Problem(f"not valid TOML: {message}", where, line)]) from None
    known = ", ".join(sorted(_TABLES))
    for key in data:
        if key not in _TABLES:
            raise ConfigError(
                [
                    Problem(
                        f"unknown table or key {key!r} (known: {known})",
                        where,
                        _line_of(text, key),
                    )
                ]
            )
    for table, keys in _TABLES.items():
        values = data.get(table)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(
                [Problem(f"must be a table: [{table}]", where, _line_of(text, table))]
            )
        for key in values:
            if key not in keys:
                raise ConfigError(
                    [
                        Problem(
                            f"unknown key (known: {', '.join(sorted(keys))})",
                            where,
                            _line_of(text, key),
                            f"{table}.{key}",
                        )
                    ]
                )
    return data, text


def _config_files(path: Path, table: str, key: str, what: str) -> tuple[Path, ...]:
    """The files ``[table] key`` lists, relative to govrl.toml, each checked to exist."""
    where = str(path)
    data, text = _read_config(path)
    values = data.get(table)
    listed = values.get(key, []) if isinstance(values, dict) else []
    if not isinstance(listed, list) or not all(isinstance(a, str) and a for a in listed):
        raise ConfigError(
            [
                Problem(
                    f"must be a list of {what} file paths",
                    where,
                    _line_of(text, key),
                    f"{table}.{key}",
                )
            ]
        )
    paths = []
    for n, name in enumerate(listed):
        resolved = (path.parent / name).resolve()
        if not resolved.is_file():
            raise ConfigError(
                [
                    Problem(
                        f"no such {what} file: {resolved}",
                        where,
                        _line_of(text, name),
                        f"{table}.{key}[{n}]",
                    )
                ]
            )
        paths.append(resolved)
    return tuple(paths)


def load_trust_config(path: Path) -> TrustSetting | None:
    """The anchors a govrl.toml names, each checked to exist; None when it names none."""
    paths = _config_files(path, "trust", "anchors", "certificate")
    return TrustSetting(paths, f"{path}") if paths else None


def load_pinned_config(path: Path) -> PinnedSetting | None:
    """The policy files a govrl.toml pins, each checked to exist; None when it pins none."""
    paths = _config_files(path, "policy", "pinned", "policy")
    return PinnedSetting(paths, f"{path} [policy] pinned") if paths else None


def pinned_setting(
    flags: tuple[Path, ...] = (), *, cwd: Path | None = None
) -> PinnedSetting | None:
    """The pinned policy files from flags, else from govrl.toml; None when neither pins any."""
    if flags:
        return PinnedSetting(flags, "--policy " + ", ".join(map(str, flags)))
    config = find_config(cwd or Path.cwd())
    return load_pinned_config(config) if config is not None else None


def _from_environment(value: str, cwd: Path) -> TrustSetting | None:
    paths = []
    for part in value.split(os.pathsep):
        if not part.strip():
            continue
        resolved = (cwd / part).resolve()
        if not resolved.is_file():
            raise ConfigError([Problem(f"no such certificate file: {resolved}", f"${TRUST_ENV}")])
        paths.append(resolved)
    return TrustSetting(tuple(paths), f"${TRUST_ENV}") if paths else None


def trust_setting(
    request: TrustRequest,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> TrustSetting | None:
    """The anchors configured by flag, else environment, else govrl.toml; None if none are."""
    if request.skip:
        if request.flags:
            raise UsageError(f"give --trust or {NO_TRUST_CHECK}, not both")
        return NOT_CHECKED
    if request.flags:
        return TrustSetting(request.flags, "--trust " + ", ".join(map(str, request.flags)))
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    from_env = _from_environment(environ.get(TRUST_ENV, ""), cwd)
    if from_env is not None:
        return from_env
    config = find_config(cwd)
    return load_trust_config(config) if config is not None else None


def require_trust(
    request: TrustRequest,
    *,
    what: str = "this command",
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> TrustSetting:
    """The configured anchors, or NoTrustAnchors saying how to configure them."""
    found = trust_setting(request, environ=environ, cwd=cwd)
    if found is None:
        raise NoTrustAnchors(
            f"no trust anchors configured: {what} checks that every signer's certificate "
            "chains to a CA you trust, and will not pass a signature it cannot judge",
            hint=HOW_TO_TRUST,
        )
    return found


@dataclass(frozen=True)
class MappingSetting:
    """The mapping file a collect uses, and the govrl.toml that names it (or would)."""

    path: Path | None
    config: Path
    configured: bool  # the govrl.toml names it already


def mapping_setting(record: Path, flag: Path | None = None) -> MappingSetting:
    """``--mapping`` if given, else the mapping the project's govrl.toml names, else none.

    The govrl.toml is the nearest one above the record; without one, the record's folder
    is where one would be written.
    """
    found = find_config(record.parent)
    config = found or record.parent.resolve() / CONFIG_FILE
    named = _config_file(found, "collect", "mapping", "mapping") if found else None
    if flag is not None:
        return MappingSetting(flag, config, named == flag.resolve())
    return MappingSetting(named, config, named is not None)


def _config_file(path: Path, table: str, key: str, what: str) -> Path | None:
    """The one file ``[table] key`` names, relative to govrl.toml, checked to exist."""
    data, text = _read_config(path)
    values = data.get(table)
    name = values.get(key) if isinstance(values, dict) else None
    if name is None:
        return None
    line = _line_of(text, key)
    if not isinstance(name, str) or not name:
        raise ConfigError(
            [Problem(f"must be a {what} file path", str(path), line, f"{table}.{key}")]
        )
    resolved = (path.parent / name).resolve()
    if not resolved.is_file():
        raise ConfigError(
            [Problem(f"no such {what} file: {resolved}", str(path), line, f"{table}.{key}")]
        )
    return resolved


def remember_mapping(setting: MappingSetting) -> str | None:
    """Name ``setting.path`` as ``[collect] mapping`` in govrl.toml, unless one is named.

    Returns what was written, for the report; None when nothing was. A mapping the file
    already names differently is left alone: the file is the team's, the flag a one-off.
    """
    import tomllib

    from govrl.atomicfile import locked, write_atomic

    if setting.path is None or setting.configured:
        return None
    config = setting.config
    with locked(config):
        text = config.read_text(encoding="utf-8") if config.is_file() else ""
        if config.is_file() and _config_file(config, "collect", "mapping", "mapping"):
            return None
        relative = Path(os.path.relpath(setting.path.resolve(), config.parent)).as_posix()
        entry = f"mapping = {_toml_string(relative)}\n"
        header = re.search(r"^\[collect\][ \t]*(#.*)?$", text, re.MULTILINE)
        if header:
            end = header.end()
            text = text[:end] + "\n" + entry.rstrip("\n") + text[end:]
        else:
            text += "\n" if text and not text.endswith("\n") else ""
            text += ("\n" if text else "") + "[collect]\n" + entry
        tomllib.loads(text)  # never write a file govrl could not read back
        write_atomic(config, text)
    return f"{config} [collect] mapping = {relative}"


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
