"""Where trust anchors come from: --trust, $GOVRL_TRUST, or a committed govrl.toml.

A team commits one ``govrl.toml`` at the top of its repository::

    [trust]
    anchors = ["keys/org-ca.cert.pem"]

Paths in it are relative to the file. The first of flag, environment and file
that names anchors wins; the lower ones are not read.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from govrl.errors import GovrlError, InputError, Problem, UsageError

CONFIG_FILE = "govrl.toml"
TRUST_ENV = "GOVRL_TRUST"
NO_TRUST_CHECK = "--no-trust-check"
MAX_CONFIG_BYTES = 64 * 1024
_TRUST_KEYS = {"anchors"}

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


def load_trust_config(path: Path) -> TrustSetting | None:
    """The anchors a govrl.toml names, each checked to exist; None when it names none."""
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
    for key in data:
        if key != "trust":
            raise ConfigError(
                [
                    Problem(
                        f"unknown table or key {key!r} (known: trust)", where, _line_of(text, key)
                    )
                ]
            )
    trust = data.get("trust")
    if trust is None:
        return None
    if not isinstance(trust, dict):
        raise ConfigError([Problem("must be a table: [trust]", where, _line_of(text, "trust"))])
    for key in trust:
        if key not in _TRUST_KEYS:
            raise ConfigError(
                [
                    Problem(
                        "unknown key (known: anchors)", where, _line_of(text, key), f"trust.{key}"
                    )
                ]
            )
    anchors = trust.get("anchors", [])
    if not isinstance(anchors, list) or not all(isinstance(a, str) and a for a in anchors):
        raise ConfigError(
            [
                Problem(
                    "must be a list of certificate file paths",
                    where,
                    _line_of(text, "anchors"),
                    "trust.anchors",
                )
            ]
        )
    paths = []
    for n, anchor in enumerate(anchors):
        resolved = (path.parent / anchor).resolve()
        if not resolved.is_file():
            raise ConfigError(
                [
                    Problem(
                        f"no such certificate file: {resolved}",
                        where,
                        _line_of(text, anchor),
                        f"trust.anchors[{n}]",
                    )
                ]
            )
        paths.append(resolved)
    return TrustSetting(tuple(paths), f"{path}") if paths else None


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
