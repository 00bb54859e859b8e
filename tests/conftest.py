"""Fixtures the test modules share: a CLI runner, record copies, a test PKI, signed approvals,
the seeded sepsis MLflow store and a real `mlflow server` over it.

Anything expensive is built once per session; tests copy what they change.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.approvals import ROLES, render_approval, sign_in_turn
from tests.support.mlflow_server import MlflowServer, start_server
from tests.support.paths import DATA, EXAMPLES
from tests.support.pki import Pki, Reviewer, make_pki
from tests.support.readme import DemoRun, run_main_job
from tests.support.records import write_record
from tests.support.sepsis_store import DemoStore, seed_demo_store

# The README's main job seeds an MLflow store, renders and signs: tens of seconds.
MAIN_JOB_MARKS = ("mlflow", "pdf", "slow")


# Tests that share an expensive session fixture run in one worker under pytest-xdist,
# so that it is built once; the rest keep to their module's worker, as with --dist loadfile.
SHARED_GROUPS = {"readme_demo": "readme-demo", "mlflow_server": "mlflow", "demo_store": "mlflow"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "readme_demo" in fixtures:
            for mark in MAIN_JOB_MARKS:
                item.add_marker(mark)
        group = next((g for f, g in SHARED_GROUPS.items() if f in fixtures), item.path.name)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def readme_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The README's main job (`govrl demo`), run once as a real process for every test."""
    return run_main_job(tmp_path_factory.mktemp("readme-demo"))


# ---------------------------------------------------------------- the command line and records


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def minimal_record_text() -> str:
    return (DATA / "valid-minimal.yaml").read_text(encoding="utf-8")


@pytest.fixture
def minimal_record(tmp_path: Path) -> Path:
    """A copy of tests/data/valid-minimal.yaml that the test may change."""
    return Path(shutil.copy(DATA / "valid-minimal.yaml", tmp_path / "record.yaml"))


@pytest.fixture
def sepsis_record(tmp_path: Path) -> Path:
    """A copy of examples/sepsis-offline-rl.yaml that the test may change."""
    return Path(shutil.copy(EXAMPLES / "sepsis-offline-rl.yaml", tmp_path / "sepsis.yaml"))


# ---------------------------------------------------------------- keys and signed approvals


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """An organisation CA with its passphrase file; reviewers are issued from it."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def reviewers(pki: Pki) -> dict[str, Reviewer]:
    """One reviewer per role: the three the test policy asks for at tier 3, and one it does not."""
    return {
        role: pki.reviewer(name, role)
        for name, role in (
            ("Olive Owner", "owner"),
            ("Dana Domain", "domain-expert"),
            ("Ivan Independent", "independent-validator"),
            ("Eve Ethics", "ethics-fairness"),
        )
    }


@pytest.fixture(scope="session")
def unsigned_approval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The approval of a tier-3 record that passes the three-signer policy, fields empty."""
    folder = tmp_path_factory.mktemp("approval")
    out = folder / "approval.pdf"
    result = render_approval(write_record(folder / "record.yaml", tier=3), out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def signed_approval(
    unsigned_approval: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> Path:
    """That approval signed by owner, domain expert and independent validator, in that order."""
    return sign_in_turn(unsigned_approval, tmp_path_factory.mktemp("signed"), pki, reviewers, ROLES)


@pytest.fixture(scope="session")
def owner_signed_approval(signed_approval: Path) -> Path:
    """The same approval with the owner's signature only (the first step of the signing)."""
    return signed_approval.with_name("signed-0.pdf")


# ---------------------------------------------------------------- MLflow


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """The sepsis store (sqlite and local artifacts), seeded once per session."""
    return seed_demo_store(tmp_path_factory.mktemp("demo") / "store")


@pytest.fixture(scope="session")
def mlflow_server(demo_store: DemoStore) -> Iterator[MlflowServer]:
    """A real `mlflow server` on 127.0.0.1 serving the sepsis store, started once per session."""
    server = start_server(demo_store.folder / "mlflow.db", demo_store.folder / "artifacts")
    yield server
    server.stop()
