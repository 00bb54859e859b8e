"""The policies entries are archived under, kept with their file's bytes, and the ones an
organisation pins by digest: `archive verify` fails an entry archived under any other, and
`archive add` refuses a policy that takes a pinned one's name with other bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govrl.archive.log import LOG, PolicyRef
from govrl.errors import GovrlError, InputError, Problem
from govrl.record.identity import digest_of
from govrl.review.policy import policy_label

if TYPE_CHECKING:
    from govrl.archive.log import Entry
    from govrl.archive.report import ArchiveReport
    from govrl.config import PinnedSetting
    from govrl.review.policy import Policy


@dataclass(frozen=True)
class PolicyFile:
    """A policy and its file's bytes, which the archive keeps so it can re-verify later."""

    policy: Policy
    data: bytes
    source: str = "the policy"

    @classmethod
    def load(cls, path: Path | None = None) -> PolicyFile:
        """Read the policy file once, so the bytes kept are the bytes parsed."""
        from govrl.resources import data_dir
        from govrl.review.policy import DEFAULT_POLICY, parse_policy

        source = path or data_dir("policies") / f"{DEFAULT_POLICY}.yaml"
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError([Problem(f"cannot read: {exc.strerror}", str(source))]) from None
        return cls(parse_policy(data, str(source)), data, str(source))

    @property
    def ref(self) -> PolicyRef:
        return PolicyRef(
            digest=digest_of(self.data),
            size=len(self.data),
            id=self.policy.id,
            version=self.policy.version,
        )


class PolicyRefused(GovrlError):
    """The policy has a pinned policy's id and version but not its file's digest."""


@dataclass(frozen=True)
class Pins:
    """The pinned policies, by file digest, and where they were configured."""

    policies: tuple[PolicyFile, ...]
    source: str

    @classmethod
    def load(cls, setting: PinnedSetting) -> Pins:
        return cls(tuple(PolicyFile.load(path) for path in setting.paths), setting.source)

    def pinned(self, digest: str) -> bool:
        return any(p.ref.digest == digest for p in self.policies)

    def listing(self) -> str:
        return ", ".join(f"{p.policy.label} ({p.ref.digest})" for p in self.policies)

    def refuse_impostor(self, ref: PolicyRef, where: str) -> None:
        """Raise PolicyRefused when ``ref`` names a pinned policy but is another file."""
        label = policy_label(ref.id, ref.version)
        for pinned in self.policies:
            if pinned.policy.label == label and pinned.ref.digest != ref.digest:
                raise PolicyRefused(
                    f"{where}: policy {label} (file {ref.digest}) is not the pinned policy "
                    f"{label} (file {pinned.ref.digest}, pinned by {self.source}): a policy "
                    "with a pinned policy's id and version must be that very file",
                    hint="archive under the pinned file, or give the new policy its own "
                    "version and pin it",
                )


def check_pins(
    report: ArchiveReport, entries: list[Entry], pins: Pins, withdrawn: dict[int, int]
) -> None:
    """Every entry still standing was archived under a pinned policy."""
    report.pinned_from = pins.source
    for entry in entries:
        if entry.withdraws is not None or entry.sequence in withdrawn:
            continue
        if not pins.pinned(entry.policy.digest):
            label = policy_label(entry.policy.id, entry.policy.version)
            report.error(
                "policy-unpinned",
                LOG,
                f"entry {entry.sequence} ({entry.document.file_name}) was archived under "
                f"policy {label} (file {entry.policy.digest}), which is not pinned; pinned by "
                f"{pins.source}: {pins.listing()}",
                entry.sequence,
                area="documents",
            )
