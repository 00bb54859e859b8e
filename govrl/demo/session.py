"""One run of the demo: the folder it fills, what it has written, and how a step is shown and
fails."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from govrl.errors import GovrlError

T = TypeVar("T")


class DemoStepFailed(GovrlError):
    """A step of the demo failed; its command and what went wrong are in the message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CheckFailed(GovrlError):
    """A step's check ran and failed, where its command exits 1."""


@dataclass
class Produced:
    path: Path
    what: str


@dataclass
class Demo:
    """The folder the demo fills, and what it has written so far."""

    out: Path
    say: Callable[[str], None]
    produced: list[Produced] = field(default_factory=list)
    step: int = 0
    steps: int = 0
    passphrase: Path | None = None  # the file holding the demo keys' passphrase

    def file(self, name: str, what: str) -> Path:
        path = self.out / name
        self.produced.append(Produced(path, what))
        return path

    def shown(self, path: Path) -> str:
        """A path as the user would type it from where they ran the demo."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def begin(self, title: str) -> float:
        self.step += 1
        self.say(f"[{self.step:>2}/{self.steps}] {title}")
        return time.perf_counter()

    def end(self, started: float, summary: str) -> None:
        self.say(f"        {summary} ({time.perf_counter() - started:.1f} s)")

    def run(
        self,
        title: str,
        *command: str | Path,
        action: Callable[[], T],
        summary: Callable[[T], str],
    ) -> T:
        """Show one step and the govrl command that does it, then do it with ``action``.

        A GovrlError fails the step, keeping the exit code its command would give.
        """
        words = [self.shown(a) if isinstance(a, Path) else a for a in command]
        started = self.begin(title)
        self.say("        $ govrl " + shlex.join(words))
        try:
            result = action()
        except GovrlError as exc:
            raise DemoStepFailed(
                f"demo step {self.step} ({title}) failed with exit {exc.exit_code}:\n"
                f"  govrl {shlex.join(words)}\n{exc.diagnostics()}",
                exit_code=exc.exit_code,
            ) from exc
        self.end(started, summary(result))
        return result
