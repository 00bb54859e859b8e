"""What is checked of the Merkle tree: the archive's checkpoints and tree.json against the
log, and a checkpoint the caller kept from earlier against both a store and a bundle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from govrl.archive.checkpoint import (
    CHECKPOINTS,
    Checkpoint,
    SignatureCheck,
    check_signature,
    describe,
    key_of,
    parse_checkpoint,
)
from govrl.archive.log import LOG, Line
from govrl.archive.merkle import MerkleTree, leaf_hash, verify_consistency
from govrl.archive.report import ArchiveReport, CheckpointState
from govrl.archive.tree import TREE, Tree, hexdigest, raw_digest

_SHOWN = 3  # a rewritten history fails every later checkpoint; name the first few


@dataclass(frozen=True)
class Moment:
    """The log as of one size: its root, last entry hash and system index digest."""

    root: str
    head: str
    systems: str


def check_tree(
    report: ArchiveReport,
    lines: list[Line],
    tree_raw: bytes | None,
    checkpoints_raw: bytes,
    trust: tuple[bytes, ...] | None,
    expected: Checkpoint | None,
    all_signatures: bool = True,
) -> None:
    """Every checkpoint and tree.json must describe the log; the latest must cover it.

    The latest checkpoint's signature is always checked: its root covers every entry.
    The earlier ones' (about 0.1 ms each) only with ``all_signatures``; their roots are
    checked regardless, so an earlier one cannot state anything the log contradicts.
    """
    complete = [line for line in lines if line.complete]
    count = len(complete)
    checkpoints = _parse_checkpoints(report, checkpoints_raw)
    state = _parse_tree(report, tree_raw, count)
    needed = {cp.body.tree_size for _, cp in checkpoints}
    if expected is not None:
        needed.add(expected.body.tree_size)
    moments, snapshot = _walk(complete, needed, state.size if state else None)
    if state is not None:
        _compare_state(report, state, snapshot, count)
    _compare_checkpoints(report, checkpoints, moments, count)
    checks = _check_signatures(report, checkpoints, trust, all_signatures)
    latest = checkpoints[-1][1] if checkpoints else None
    if latest is not None:
        report.checkpoint = state_of(latest, checks[-1])
        if state is not None and state.origin != latest.body.origin:
            report.error(
                "tree-state",
                TREE,
                f"names archive {state.origin}, the checkpoints {latest.body.origin}",
            )
    _check_coverage(report, latest, count)
    if expected is not None:
        origin = latest.body.origin if latest else state.origin if state else None
        judge_expected(
            report,
            expected,
            origin=origin,
            size=count,
            root_at=lambda n: moments[n].root if n in moments else None,
            latest=(latest, checks[-1]) if latest else None,
            leaves=lambda: [leaf_hash(line.raw) for line in complete],
            trust=trust,
        )


def state_of(checkpoint: Checkpoint, check: SignatureCheck) -> CheckpointState:
    body = checkpoint.body
    return CheckpointState(
        body.tree_size, body.root_hash, body.time, checkpoint.signed, check.signer, check.trusted
    )


def _parse_checkpoints(report: ArchiveReport, raw: bytes) -> list[tuple[int, Checkpoint]]:
    found = []
    pieces = raw.split(b"\n")
    tail = pieces.pop()
    for number, piece in enumerate(pieces, 1):
        try:
            found.append((number, parse_checkpoint(piece, f"line {number}")))
        except ValueError as exc:
            report.error("checkpoint-damaged", CHECKPOINTS, str(exc))
    if tail:
        report.warn(
            "checkpoint-torn",
            CHECKPOINTS,
            f"line {len(pieces) + 1} is incomplete (a write cut short); the next checkpoint "
            "written replaces it",
        )
    return found


def _parse_tree(report: ArchiveReport, raw: bytes | None, count: int) -> Tree | None:
    if raw is None:
        if count:
            report.warn("tree-state", TREE, "missing; the next add rebuilds it from the log")
        return None
    try:
        return Tree.decode(raw)
    except ValueError as exc:
        report.error("tree-state", TREE, f"damaged: {exc}")
        return None


def _walk(
    lines: list[Line], needed: set[int], state_size: int | None
) -> tuple[dict[int, Moment], Tree | None]:
    """One pass over the log: the moments asked for, and the tree at tree.json's size."""
    tree = Tree("")
    moments: dict[int, Moment] = {}
    snapshot = None

    def note(size: int) -> None:
        nonlocal snapshot
        if size in needed:
            moments[size] = Moment(tree.root(), tree.head, tree.systems.digest())
        if size == state_size:
            snapshot = Tree(tree.origin, tree.frontier.copy(), tree.head, tree.systems.copy())

    note(0)
    for line in lines:
        tree.append(line.raw, line.entry.system.id if line.entry else None)
        note(tree.size)
    return moments, snapshot


def _compare_state(report: ArchiveReport, state: Tree, actual: Tree | None, count: int) -> None:
    """tree.json is what the log implies at its size, and that size is the log's."""
    if actual is None:
        report.error(
            "tree-state",
            TREE,
            f"records {state.size} entries, but the log holds {count}: the log lost entries "
            "after the tree last recorded them",
            count + 1,
        )
        return
    if (actual.frontier.hashes, actual.head) != (state.frontier.hashes, state.head):
        report.error(
            "tree-state",
            TREE,
            f"does not match the log's first {state.size} entries (its frontier or last hash "
            "was changed): the next checkpoint would state a false root",
        )
    elif actual.systems.counts != state.systems.counts:
        report.error(
            "tree-state", TREE, "its system index does not match the log's entries (changed)"
        )
    elif state.size < count - 1:
        report.error(
            "tree-state",
            TREE,
            f"records {state.size} entries, the log {count}: entries were appended outside govrl",
            state.size + 1,
        )
    elif state.size == count - 1:
        report.warn(
            "tree-state",
            TREE,
            f"entry {count} is not in it yet (an add stopped early); the next add records it",
            count,
        )


def _compare_checkpoints(
    report: ArchiveReport,
    checkpoints: list[tuple[int, Checkpoint]],
    moments: dict[int, Moment],
    count: int,
) -> None:
    origin, largest = None, 0
    wrong: list[str] = []
    ahead: list[tuple[int, int]] = []
    for number, cp in checkpoints:
        body = cp.body
        where = f"line {number} ({describe(cp)})"
        if origin is None:
            origin = body.origin
        elif body.origin != origin:
            report.error(
                "checkpoint-origin",
                CHECKPOINTS,
                f"{where} names archive {body.origin}, the lines before it {origin}: "
                "a checkpoint of another archive",
            )
        if body.tree_size < largest:
            report.error(
                "checkpoint-order",
                CHECKPOINTS,
                f"{where} states fewer entries than line {number - 1}'s {largest}: "
                "the log went back (rolled back, then added to)",
                body.tree_size + 1,
            )
        largest = max(largest, body.tree_size)
        moment = moments.get(body.tree_size)
        if moment is None:
            ahead.append((number, body.tree_size))
        elif (moment.root, moment.head) != (body.root_hash, body.head):
            wrong.append(where)
        elif moment.systems != body.systems:
            wrong.append(f"{where}, whose system index")
    if ahead:
        lines = _span([number for number, _ in ahead])
        most = max(size for _, size in ahead)
        report.error(
            "checkpoint-ahead",
            LOG,
            f"checkpoints.jsonl {lines} cover up to {most} entries, but the log holds "
            f"{count}: {entries(count + 1, most)} removed after they were signed (a rollback)",
            count + 1,
        )
    if wrong:
        shown = "; ".join(wrong[:_SHOWN]) + (
            f" and {len(wrong) - _SHOWN} more" if len(wrong) > _SHOWN else ""
        )
        report.error(
            "checkpoint-mismatch",
            LOG,
            f"the log no longer matches what checkpoints.jsonl {shown} signed: entries before "
            "them were changed, removed or reordered (history rewritten)",
        )


def _check_signatures(
    report: ArchiveReport,
    checkpoints: list[tuple[int, Checkpoint]],
    trust: tuple[bytes, ...] | None,
    every: bool,
) -> list[SignatureCheck]:
    """Signed throughout once signed, by one key or with each change noted; returns the
    checks made, the latest's last."""
    checks = []
    bad: list[str] = []
    signed_before: int | None = None
    key: str | None = None
    for at, (number, cp) in enumerate(checkpoints, 1):
        if not cp.signed:
            if signed_before is not None:
                report.error(
                    "checkpoint-unsigned",
                    CHECKPOINTS,
                    f"line {number} is unsigned, though line {signed_before} before it was "
                    "signed: written without the archive key",
                )
                signed_before = None  # one finding per run of unsigned lines
            if at == len(checkpoints):
                checks.append(check_signature(cp, trust))
            continue
        signed_before = number
        if every or at == len(checkpoints):
            check = check_signature(cp, trust)
            checks.append(check)
            if check.problems:
                bad.append(f"line {number}: " + "; ".join(check.problems))
        signer, key_id = key_of(cp)
        if key is not None and key_id != key:
            report.warn(
                "checkpoint-key-changed",
                CHECKPOINTS,
                f"line {number} is signed by another archive key ({signer}) than the line "
                "before it",
            )
        key = key_id
    if bad:
        more = f" (and {len(bad) - _SHOWN} more)" if len(bad) > _SHOWN else ""
        report.error("checkpoint-signature", CHECKPOINTS, "; ".join(bad[:_SHOWN]) + more)
    if checkpoints and not checkpoints[-1][1].signed:
        report_unsigned(report, CHECKPOINTS, "the latest checkpoint", trust)
    return checks


def report_unsigned(
    report: ArchiveReport, where: str, what: str, trust: tuple[bytes, ...] | None
) -> None:
    if trust is None:
        report.warn(
            "checkpoint-unsigned",
            where,
            f"{what} is unsigned: it proves nothing about who stated it "
            "(written with --unsigned-checkpoint)",
        )
    else:
        report.error(
            "checkpoint-unsigned",
            where,
            f"{what} is unsigned, so no trust anchor can vouch for it; sign one with "
            "`govrl archive checkpoint --archive-key ... --archive-cert ...`",
        )


def _check_coverage(report: ArchiveReport, latest: Checkpoint | None, count: int) -> None:
    """The latest checkpoint covers the log; one entry short is an add that stopped early."""
    size = latest.body.tree_size if latest else 0
    if size >= count:
        return
    covers = f"the latest checkpoint covers {size} entries" if latest else "no checkpoint"
    message = (
        f"{covers}, the log holds {count}: "
        f"{entries(size + 1, count).replace(' was', ' is').replace(' were', ' are')} under "
        "no checkpoint; the next add, or `govrl archive checkpoint --archive-key ...`, signs "
        "one of the whole log"
    )
    code = "checkpoint-behind" if latest else "checkpoint-missing"
    if size == count - 1:
        report.warn(code, CHECKPOINTS, message + " (an add stopped early)", count)
    else:
        report.error(code, CHECKPOINTS, message + " (appended outside govrl?)", size + 1)


def judge_expected(
    report: ArchiveReport,
    expected: Checkpoint,
    *,
    origin: str | None,
    size: int,
    root_at: Callable[[int], str | None],
    latest: tuple[Checkpoint, SignatureCheck] | None,
    leaves: Callable[[], Sequence[bytes]],
    trust: tuple[bytes, ...] | None,
) -> None:
    """The checkpoint the caller kept must be a prefix of today's tree (RFC 9162 §2.1.4)."""
    where = "expected checkpoint"
    body = expected.body
    kept = f"the checkpoint you kept ({describe(expected)})"
    check = check_signature(expected, trust)
    if expected.signed and check.problems:
        report.error(
            "checkpoint-expected-signature", where, f"{kept}: " + "; ".join(check.problems)
        )
    elif not expected.signed:
        report.warn(
            "checkpoint-expected-signature",
            where,
            f"{kept} is unsigned; only its root is compared",
        )
    if origin is not None and body.origin != origin:
        report.error(
            "checkpoint-foreign",
            where,
            f"{kept} is of archive {body.origin}; this is archive {origin}",
        )
        return
    if body.tree_size > size:
        report.error(
            "checkpoint-rollback",
            LOG,
            f"{kept} states {body.tree_size} entries, but only {size} are here: "
            f"{entries(size + 1, body.tree_size)} removed since (a rollback)",
            size + 1,
        )
        return
    if root_at(body.tree_size) != body.root_hash:
        report.error(
            "checkpoint-inconsistent",
            LOG,
            f"the first {body.tree_size} entries are not those of {kept}: entries were "
            "changed, dropped or reordered since, and the chain recomputed (history rewritten)",
        )
        return
    if latest is None:
        return
    newest, newest_check = latest
    if newest.body.tree_size >= body.tree_size:
        tree = MerkleTree(leaves()[: newest.body.tree_size])
        proof = tree.consistency_proof(body.tree_size)
        holds = verify_consistency(
            body.tree_size,
            newest.body.tree_size,
            raw_digest(body.root_hash),
            raw_digest(newest.body.root_hash),
            proof,
        )
        report.consistency = {
            "from": {"tree_size": body.tree_size, "root_hash": body.root_hash},
            "to": {"tree_size": newest.body.tree_size, "root_hash": newest.body.root_hash},
            "proof": [hexdigest(h) for h in proof],
            "holds": holds,
        }
        if not holds:
            report.error(
                "checkpoint-inconsistent",
                LOG,
                f"no consistency proof leads from {kept} to {describe(newest)}",
            )
    if check.key_id and newest_check.key_id and check.key_id != newest_check.key_id:
        message = (
            f"{describe(newest)} is signed by another archive key ({newest_check.signer}) than "
            f"{kept} ({check.signer})"
        )
        if newest_check.trusted:
            report.warn(
                "checkpoint-key-changed", where, message + "; a trust anchor vouches for it"
            )
        else:
            report.error(
                "checkpoint-key-changed",
                where,
                message + ", and no trust anchor vouches for the new key",
            )


def entries(first: int, last: int) -> str:
    """``entry 4 was`` or ``entries 4-5 were``, for messages."""
    return f"entry {first} was" if first == last else f"entries {first}-{last} were"


def _span(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    return (
        f"lines {numbers[0]}-{numbers[-1]}"
        if numbers == list(range(numbers[0], numbers[-1] + 1))
        else "lines " + ", ".join(map(str, numbers))
    )
