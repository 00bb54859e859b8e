"""MLflow as an evidence source: runs, model versions, histories and artifacts, failing fast.

A tracking server is read through govrl's bounded client (a total deadline and a size cap per
request, see ``transport``); local stores through MlflowClient. mlflow is imported only inside
the functions that talk to it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

from govrl.evidence.history import thin, thin_pages
from govrl.evidence.interface import (
    ArtifactFile,
    Evidence,
    EvidenceNotFound,
    EvidenceSource,
    FetchPlan,
    ModelRef,
    Point,
    PublishReceipt,
    PublishRequest,
    RunEvidence,
    Selection,
    SourceError,
    SourceUnavailable,
    SourceUsageError,
    Thinning,
)
from govrl.evidence.transport import (
    MAX_JSON_BYTES,
    HttpStatusError,
    ServerMisbehaved,
    Unreachable,
)
from govrl.vocabulary import SourceKind

DEFAULT_TIMEOUT = 10.0
BULK_LIMIT = 25_000  # the server's cap on points per bulk answer
BULK_RUNS = 100  # the server's cap on run ids per bulk request
SQLITE_PAGE = 25_000  # points read at a time from a local database
_METRIC_COLUMNS = {"run_uuid", "key", "step", "timestamp", "value", "is_nan"}
MAX_ARTIFACT_BYTES = 256 * 1024 * 1024  # the largest archived file govrl copies back
MAX_FILES, MAX_DEPTH = 100_000, 16  # the most a copied folder holds, files and levels deep
_REMOTE = {"http", "https", "databricks", "postgresql", "mysql", "mssql"}
_WRONG_ID = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}
_REFUSED = {"PERMISSION_DENIED", "UNAUTHENTICATED"}


def public_uri(uri: str) -> str:
    """The URI without credentials or query, fit to print and to store in a record."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return uri.split("?", 1)[0]
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def check_uri(uri: str) -> None:
    """Refuse URIs MLflow would quietly turn into a new, empty local store."""
    scheme = urlsplit(uri).scheme
    if scheme == "sqlite":
        path = uri[len("sqlite://") :].split("?", 1)[0]
        if not path.startswith("/") or path in ("/", "/:memory:"):
            raise SourceUsageError(f"{uri}: name a database file, as sqlite:///PATH")
        database = Path(path[1:])
        if not database.is_file():
            raise SourceUnavailable(
                f"no MLflow database at {database} ({uri}); govrl never creates one",
                hint="check the path (sqlite:///relative.db or sqlite:////absolute.db)",
            )
        _check_mlflow_database(database)
    elif scheme in ("", "file"):
        folder = Path(url2pathname(urlsplit(uri).path)) if scheme == "file" else Path(uri)
        if not folder.is_dir():
            raise SourceUnavailable(
                f"no MLflow store at {uri}",
                hint="a server is http(s)://HOST:PORT; a local database is sqlite:///PATH",
            )
    elif scheme not in _REMOTE:
        raise SourceUsageError(f"{uri}: not an MLflow tracking URI (http(s)://, sqlite:///, ...)")


def _check_mlflow_database(database: Path) -> None:
    """Refuse a file MLflow would otherwise fill with its own tables."""
    try:
        with contextlib.closing(sqlite3.connect(_read_only(database), uri=True)) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error as exc:
        raise SourceUnavailable(f"{database} is not a readable SQLite database: {exc}") from None
    if not {"experiments", "runs"} <= {row[0] for row in rows}:
        raise SourceUnavailable(f"{database} is not an MLflow database (it has no runs table)")


@contextlib.contextmanager
def fast_failing(timeout: float) -> Iterator[None]:
    """Bound every MLflow call (no retries, a timeout) and keep telemetry and chatter off."""
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    try:
        import mlflow  # noqa: F401  (after the settings: telemetry is decided at import)

        for logger in loggers:  # mlflow sets its own level on import; its INFO is noise here
            logger.setLevel(logging.WARNING)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _reason(text: str, timeout: float) -> str:
    if "timed out" in text.lower() or "timeout" in text.lower():
        return f"no answer within {timeout:g} s"
    if "refused" in text.lower() or "Max retries exceeded" in text or "Connection" in text:
        return "connection refused or lost"
    return text.split("\n", 1)[0][:300]


def inner_depth(folders: list[str], top: str) -> int:
    """How many levels below ``top`` the deepest of ``folders`` lies."""
    return max((f.count("/") - top.count("/") for f in folders), default=0)


def _latest_steps(run: Any) -> dict[str, int]:
    """The step of each metric's latest value in the run."""
    return {m.key: m.step for m in run.data.to_proto().metrics}


def _kept(points: list[Point], thinning: Thinning | None) -> Collection[Point]:
    """A whole history as the fetch keeps it: every point, or thinned."""
    if thinning is None:
        return points
    return thin(points, thinning.window, thinning.points)


def _kept_pages(pages: Iterator[list[Point]], thinning: Thinning | None) -> Collection[Point]:
    """A history read page by page as the fetch keeps it: every point, or thinned as it comes."""
    if thinning is None:
        return [point for page in pages for point in page]
    return thin_pages(pages, thinning.window, thinning.points)


def reads_metrics(database: Path) -> bool:
    """Whether the MLflow database's metrics table has the columns govrl reads directly."""
    with contextlib.closing(sqlite3.connect(_read_only(database), uri=True)) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(metrics)")}
    return columns >= _METRIC_COLUMNS


def sqlite_history(database: Path, run_id: str, key: str, timeout: float) -> Iterator[list[Point]]:
    """A run's metric history read from an MLflow database, ``SQLITE_PAGE`` points at a time,
    in logging order; NaN comes back as NaN (MLflow stores it as 0 with a flag)."""
    query = (
        "SELECT step, COALESCE(timestamp, 0), value, is_nan FROM metrics"
        " WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp, value"
    )
    with contextlib.closing(sqlite3.connect(_read_only(database), uri=True, timeout=timeout)) as db:
        rows = db.execute(query, (run_id, key))
        while page := rows.fetchmany(SQLITE_PAGE):
            yield [(s, t, math.nan if nan else v) for s, t, v, nan in page]


def _read_only(database: Path) -> str:
    return database.resolve().as_uri() + "?mode=ro"


class MlflowSource(EvidenceSource):
    """Reads runs and model versions from an MLflow tracking server or local store."""

    kind = SourceKind.MLFLOW

    def __init__(
        self,
        tracking_uri: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        """``timeout`` bounds each request from connect to last byte; answers past
        ``max_response_bytes`` are refused (artifacts keep the plan's own cap)."""
        check_uri(tracking_uri)
        self.uri = tracking_uri
        self.location = public_uri(tracking_uri)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.http = urlsplit(tracking_uri).scheme in ("http", "https")
        self.database = (
            Path(tracking_uri[len("sqlite://") :].split("?", 1)[0][1:]).resolve()
            if urlsplit(tracking_uri).scheme == "sqlite"
            else None
        )
        self._reads_metrics: bool | None = None

    # ------------------------------------------------------------- plumbing

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        with fast_failing(self.timeout):
            with self._step("open the MLflow client"):
                from mlflow import MlflowClient

                client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            yield client

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        """What reads runs and models: the bounded REST client for a server, else MlflowClient."""
        if not self.http:
            with self._client() as client:
                yield client
            return
        with fast_failing(self.timeout):
            from govrl.evidence.mlflow_rest import MlflowRest

            yield MlflowRest.connect(self.uri, self.timeout, self.max_response_bytes)

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        try:
            yield
        except HttpStatusError as exc:
            raise self._refusal(exc, what) from None
        except Unreachable as exc:
            raise self._unreachable(what, exc.reason, exact=True) from None
        except ServerMisbehaved as exc:
            raise ServerMisbehaved(
                f"{what}: {exc.message}", hint="the server misbehaved; the record was not changed"
            ) from None
        except SourceError:
            raise
        except Exception as exc:
            raise self._translate(exc, what) from exc

    def _refusal(self, exc: HttpStatusError, what: str) -> SourceError:
        """An error status in MLflow's terms where its error code says what was wrong."""
        if exc.code in _WRONG_ID and exc.status in (400, 404):
            return EvidenceNotFound(f"{what}: {exc.detail or exc.code} (at {self.location})")
        if exc.code in _REFUSED or exc.status in (401, 403):
            return SourceUnavailable(
                f"{what}: {exc.message}",
                hint="check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
            )
        return SourceUnavailable(f"{what}: {exc.message}", hint="the record was not changed")

    def _translate(self, exc: Exception, what: str) -> SourceError:
        import requests
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException):
            message = str(exc.message)
            code = str(exc.error_code)
            message = message.removeprefix(f"{code}: ").strip()
            if code in _WRONG_ID:
                return EvidenceNotFound(f"{what}: {message} (at {self.location})")
            if code in _REFUSED:
                return SourceUnavailable(
                    f"{what}: MLflow at {self.location} refused: {message}",
                    hint="check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
                )
            if "API request to" in message:
                return self._unreachable(what, message)
            return SourceUnavailable(f"{what}: MLflow at {self.location} failed: {message}")
        if isinstance(exc, requests.RequestException):
            return self._unreachable(what, str(exc))
        if isinstance(exc, OSError | sqlite3.Error):
            return SourceUnavailable(f"{what}: {exc}")
        raise exc

    def _unreachable(self, what: str, text: str, *, exact: bool = False) -> SourceUnavailable:
        reason = text if exact else _reason(text, self.timeout)
        return SourceUnavailable(
            f"{what}: cannot reach MLflow at {self.location}: {reason}",
            hint="check the URI and that the server is running; the record was not changed",
        )

    def _direct(self) -> Path | None:
        """The local database whose histories govrl reads itself, page by page, if any."""
        if self._reads_metrics is None:
            self._reads_metrics = self.database is not None and reads_metrics(self.database)
        return self.database if self._reads_metrics else None

    # ---------------------------------------------------------------- reading

    def fetch(self, selection: Selection, plan: FetchPlan) -> Evidence:
        if selection.empty:
            raise SourceUsageError("select runs with --run, --experiment or --model")
        with self._reader() as client:
            names: dict[str, str] = {}  # experiment id -> name, for provenance
            runs, models = self._select(client, selection, names)
            for run in runs.values():
                exp_id = run.info.experiment_id
                if exp_id not in names:
                    with self._step(f"get experiment {exp_id}"):
                        names[exp_id] = client.get_experiment(exp_id).name
            histories = self._histories(client, runs, plan)
            found = []
            # oldest first, so entries land in the record in the order the work was done
            ordered = sorted(
                runs.items(),
                key=lambda i: (i[1].info.start_time or 0, i[1].info.run_name or "", i[0]),
            )
            for run_id, run in ordered:
                model = models.get(run_id, (None, None))
                found.append(
                    RunEvidence(
                        run_id=run_id,
                        name=run.info.run_name,
                        experiment=names[run.info.experiment_id],
                        params=dict(run.data.params),
                        tags=dict(run.data.tags),
                        metrics={k: float(v) for k, v in run.data.metrics.items()},
                        histories=histories.get(run_id, {}),
                        artifacts=self._artifacts(client, run, plan),
                        model_name=model[0],
                        model_version=model[1],
                    )
                )
        return Evidence(SourceKind.MLFLOW, self.location, found, selection.model)

    def _select(
        self, client: Any, selection: Selection, names: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
        runs: dict[str, Any] = {}
        models: dict[str, tuple[str, str]] = {}
        for run_id in selection.run_ids:
            with self._step(f"run {run_id}"):
                run = client.get_run(run_id)
            if run.info.lifecycle_stage == "deleted":
                raise EvidenceNotFound(f"run {run_id} is deleted (at {self.location})")
            runs[run.info.run_id] = run
        if selection.experiment:
            with self._step(f"experiment {selection.experiment!r}"):
                experiment = client.get_experiment_by_name(selection.experiment)
            if experiment is None or experiment.lifecycle_stage == "deleted":
                raise EvidenceNotFound(f"no experiment {selection.experiment!r} at {self.location}")
            names[experiment.experiment_id] = experiment.name
            with self._step(f"search runs in {selection.experiment!r}"):
                found = client.search_runs(
                    [experiment.experiment_id],
                    selection.filter or "",
                    max_results=selection.max_runs + 1,
                )
            if not found:
                raise EvidenceNotFound(
                    f"no runs in experiment {selection.experiment!r}"
                    + (f" match {selection.filter!r}" if selection.filter else "")
                )
            runs.update((run.info.run_id, run) for run in found)
        if selection.model:
            version = self._version(client, selection.model)
            run_id = version.run_id
            if not run_id:
                raise EvidenceNotFound(f"model {selection.model} has no source run to read")
            with self._step(f"run {run_id} of model {selection.model}"):
                runs[run_id] = client.get_run(run_id)
            models[run_id] = (version.name, str(version.version))
        if selection.with_children:
            for parent in list(runs.values()):
                pid = parent.info.run_id
                with self._step(f"child runs of {pid}"):
                    children = client.search_runs(
                        [parent.info.experiment_id],
                        f"tags.mlflow.parentRunId = '{pid}'",
                        max_results=selection.max_runs + 1,
                    )
                for child in children:
                    runs.setdefault(child.info.run_id, child)
                    if pid in models:
                        models.setdefault(child.info.run_id, models[pid])
        if len(runs) > selection.max_runs:
            raise SourceUsageError(
                f"the selection matches more than {selection.max_runs} runs",
                hint="narrow it with --filter, or raise --max-runs",
            )
        return runs, models

    def _version(self, client: Any, ref: ModelRef) -> Any:
        if ref.version is not None:
            with self._step(f"model {ref}"):
                return client.get_model_version(ref.name, ref.version)
        try:
            with self._step(f"model {ref}"):
                return client.get_model_version_by_alias(ref.name, ref.alias)
        except EvidenceNotFound as exc:
            with contextlib.suppress(SourceError), self._step("aliases"):
                aliases = sorted(client.get_registered_model(ref.name).aliases)
                exc.message = f"model {ref.name!r} has no alias {ref.alias!r} (at {self.location})"
                exc.hint = f"its aliases: {', '.join(aliases) or 'none'}"
            raise

    def _histories(
        self, client: Any, runs: dict[str, Any], plan: FetchPlan
    ) -> dict[str, dict[str, Collection[Point]]]:
        wanted: dict[str, list[str]] = {}
        for run_id, run in runs.items():
            for key in run.data.metrics:
                if plan.wants_history(key):
                    wanted.setdefault(key, []).append(run_id)
        out: dict[str, dict[str, Collection[Point]]] = {}
        latest = {run_id: _latest_steps(run) for run_id, run in runs.items()} if self.http else {}
        for key, run_ids in sorted(wanted.items()):
            bulk = None
            if self.http:
                # as many runs as fit if each logged a point a step up to its latest: answers
                # correct the guess, and a small first request costs less than a cut-off one
                steps = max(latest[run_id].get(key, 0) for run_id in run_ids)
                size = max(1, min(BULK_RUNS, (BULK_LIMIT - 1) // (max(0, steps) + 1)))
                bulk = self._bulk(client, key, run_ids, plan.thinning, size)
            found, paged = ({}, set(run_ids)) if bulk is None else bulk
            for run_id in run_ids:
                if run_id in paged:
                    with self._step(f"history of {key} in run {run_id}"):
                        found[run_id] = self._history(client, run_id, key, plan.thinning)
                out.setdefault(run_id, {})[key] = found.get(run_id, [])
        return out

    def _bulk(
        self, client: Any, key: str, run_ids: list[str], thinning: Thinning | None, size: int
    ) -> tuple[dict[str, Collection[Point]], set[str]] | None:
        """A key's histories, ``size`` runs per request at first, as many as fit after that.

        Returns the histories and the runs to read page by page (one alone overflows an
        answer), or None when the server lacks the endpoint. A truncated answer keeps the runs
        it holds in full and sizes the next request by them, so no run is fetched twice whole.
        Each answer is thinned before the next is asked for, when ``thinning`` says so.
        """
        found: dict[str, Collection[Point]] = {}
        paged: set[str] = set()
        queue = sorted(run_ids)
        while queue:
            chunk = queue[:size]
            with self._step(f"history of {key}"):
                try:
                    answered, total = client.history_bulk(key, chunk, BULK_LIMIT)
                except HttpStatusError as exc:
                    if exc.status == 404:
                        return None  # a proxy or another server without MLflow's UI API
                    raise
            whole = chunk
            if total >= BULK_LIMIT:
                # truncated: MLflow answers run by run in sorted order, so every run before the
                # last one named is whole; an answer in any other order is read page by page
                named = list(answered)
                if named != sorted(named) or not set(named) <= set(chunk):
                    paged.update(chunk)
                    del queue[: len(chunk)]
                    continue
                whole = chunk[: chunk.index(named[-1])]
                if not whole:
                    paged.add(chunk[0])  # longer than one answer
                    del queue[:1]
                    continue
            longest = max((len(answered.get(run_id, [])) for run_id in whole), default=0)
            for run_id in whole:
                found[run_id] = _kept(answered.pop(run_id, []), thinning)
            del queue[: len(whole)]
            size = max(1, min(BULK_RUNS, (BULK_LIMIT - 1) // max(1, longest)))
        return found, paged

    def _history(
        self, client: Any, run_id: str, key: str, thinning: Thinning | None
    ) -> Collection[Point]:
        """One history read on its own, page by page where the store allows it."""
        if self.http:
            from govrl.evidence.mlflow_rest import HISTORY

            try:
                return _kept_pages(client.history_pages(run_id, key), thinning)
            except OverflowError as exc:  # a number no MLflow store holds
                raise client.malformed(HISTORY, str(exc)) from None
        database = self._direct() if thinning is not None else None
        if database is not None:
            return _kept_pages(sqlite_history(database, run_id, key, self.timeout), thinning)
        metrics = client.get_metric_history(run_id, key)  # whole, as MlflowClient reads it
        return _kept([(int(m.step), int(m.timestamp), float(m.value)) for m in metrics], thinning)

    def _artifacts(self, client: Any, run: Any, plan: FetchPlan) -> dict[str, ArtifactFile]:
        """The run's evaluation tables, read through the repository its artifact URI names."""
        from govrl.evidence.mlflow_rest import MlflowRest

        if not plan.artifact_names:
            return {}
        if self.http and MlflowRest.serves(run.info.artifact_uri):
            return self._served_artifacts(client, run, plan)
        return self._repository_artifacts(run, plan)

    def _served_artifacts(self, client: Any, run: Any, plan: FetchPlan) -> dict[str, ArtifactFile]:
        """Tables the tracking server serves itself, each read within the plan's size cap."""
        run_id, uri = run.info.run_id, run.info.artifact_uri
        with self._step(f"artifacts of run {run_id}"):
            listed = client.list_artifacts(uri, plan.artifact_dir)
        found: dict[str, ArtifactFile] = {}
        for path, is_dir, size in listed:
            if is_dir or path.rsplit("/", 1)[-1] not in plan.artifact_names:
                continue
            if size > plan.max_artifact_bytes:
                raise SourceError(
                    f"artifact {path} of run {run_id} is {size} bytes, "
                    f"more than the {plan.max_artifact_bytes} govrl reads"
                )
            with self._step(f"download {path} of run {run_id}"):
                content = client.read_artifact(uri, path, plan.max_artifact_bytes)
            found[path] = ArtifactFile(path, content)
        return found

    def _repository_artifacts(self, run: Any, plan: FetchPlan) -> dict[str, ArtifactFile]:
        """Tables stored elsewhere (a local folder, a bucket), read through MLflow's repository."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        run_id = run.info.run_id
        with self._step(f"artifacts of run {run_id}"):
            # the run already names its artifact URI: asking the client would fetch the run again
            repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.uri)
            listed = repo.list_artifacts(plan.artifact_dir)
        found: dict[str, ArtifactFile] = {}
        for info in listed:
            if info.is_dir or info.path.rsplit("/", 1)[-1] not in plan.artifact_names:
                continue
            if (info.file_size or 0) > plan.max_artifact_bytes:
                raise SourceError(
                    f"artifact {info.path} of run {run_id} is {info.file_size} bytes, "
                    f"more than the {plan.max_artifact_bytes} govrl reads"
                )
            with (
                tempfile.TemporaryDirectory(prefix="govrl-") as tmp,
                self._step(f"download {info.path} of run {run_id}"),
            ):
                local = repo.download_artifacts(info.path, tmp)  # type: ignore[no-untyped-call]
                content = Path(local).read_bytes()
            found[info.path] = ArtifactFile(info.path, content)
        return found

    # ------------------------------------------------------- artifacts by path

    def source_run(self, model: ModelRef) -> str:
        """The run a registered model version was logged from."""
        with self._reader() as client:
            version = self._version(client, model)
            if not version.run_id:
                raise EvidenceNotFound(f"model {model} has no source run (at {self.location})")
            with self._step(f"run {version.run_id} of model {model}"):
                client.get_run(version.run_id)
            return str(version.run_id)

    def _served_root(self, client: Any, run_id: str) -> str | None:
        """The run's artifact URI when the tracking server serves it, read by the bounded client."""
        if not self.http:
            return None
        from govrl.evidence.mlflow_rest import MlflowRest

        with self._step(f"run {run_id}"):
            uri = str(client.get_run(run_id).info.artifact_uri)
        return uri if MlflowRest.serves(uri) else None

    def artifact_names(self, run_id: str, folder: str) -> set[str]:
        """The names directly inside ``folder`` of the run's artifacts (empty when absent)."""
        with self._reader() as reader:
            root = self._served_root(reader, run_id)
            if root is not None:
                with self._step(f"list {folder} on run {run_id}"):
                    listed = reader.list_artifacts(root, folder)
                return {path.rsplit("/", 1)[-1] for path, _, _ in listed}
        with self._client() as client, self._step(f"list {folder} on run {run_id}"):
            return {info.path.rsplit("/", 1)[-1] for info in client.list_artifacts(run_id, folder)}

    def download(self, run_id: str, path: str, into: Path) -> Path:
        """Copy the artifact file or folder ``path`` of the run under ``into``."""
        with self._reader() as reader:
            root = self._served_root(reader, run_id)
            if root is not None:
                return self._download_served(reader, root, run_id, path, into)
        with self._client() as client, self._step(f"download {path} from run {run_id}"):
            return Path(client.download_artifacts(run_id, path, str(into)))

    def _download_served(self, reader: Any, root: str, run_id: str, path: str, into: Path) -> Path:
        """A served file or folder, each file read in one bounded request and capped in size."""
        from govrl.evidence.mlflow_rest import ARTIFACTS

        files: list[str] = []
        folders = [path]
        while folders:  # breadth first, bounded: a server cannot list a folder inside itself
            folder = folders.pop(0)
            with self._step(f"list {folder} on run {run_id}"):
                listed = reader.list_artifacts(root, folder)
            if not listed and folder == path:
                files.append(path)  # a file: listing a file's own path names nothing under it
            for inner, is_dir, _ in listed:
                if not inner.startswith(f"{folder}/") or ".." in inner.split("/"):
                    raise reader.malformed(ARTIFACTS, f"it lists {inner!r} inside {folder!r}")
                (folders if is_dir else files).append(inner)
            if inner_depth(folders, path) > MAX_DEPTH or len(files) > MAX_FILES:
                raise reader.malformed(
                    ARTIFACTS, f"{path} holds more than {MAX_FILES} files or {MAX_DEPTH} levels"
                )
        for name in files:
            with self._step(f"download {name} from run {run_id}"):
                content = reader.read_artifact(root, name, MAX_ARTIFACT_BYTES)
            local = into / name
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(content)
        if path not in files:
            (into / path).mkdir(parents=True, exist_ok=True)  # an empty folder is still there
        return into / path

    def upload(self, run_id: str, files: Sequence[tuple[Path, str]]) -> None:
        """Log each local file into its artifact folder, in the order given."""
        with self._reader() as reader:
            root = self._served_root(reader, run_id)
            if root is not None:
                for local, folder in files:
                    with self._step(f"upload {folder}/{local.name} to run {run_id}"):
                        reader.write_artifact(root, f"{folder}/{local.name}", local.read_bytes())
                return
        with self._client() as client:
            for local, folder in files:
                with self._step(f"upload {folder}/{local.name} to run {run_id}"):
                    client.log_artifact(run_id, str(local), folder)

    # ---------------------------------------------------------------- writing

    def publish(self, request: PublishRequest) -> PublishReceipt:
        """Files first, then tags: a tag never points at a record that is not there.

        Against a tracking server every request is bounded; only files bound for an artifact
        store the server does not serve itself go through MLflow's own repository.
        """
        with self._reader() as client:
            version = self._version(client, request.model)
            run_id = version.run_id
            if not run_id:
                raise EvidenceNotFound(f"model {request.model} has no source run to attach to")
            with self._step(f"run {run_id} of model {request.model}"):
                client.get_run(run_id)
            self.upload(run_id, [(path, request.folder) for path in request.files])
            for key, value in request.tags.items():
                with self._step(f"tag {request.model} with {key}"):
                    client.set_model_version_tag(version.name, str(version.version), key, value)
        uploaded = tuple(f"{request.folder}/{path.name}" for path in request.files)
        return PublishReceipt(
            version.name, str(version.version), run_id, dict(request.tags), uploaded
        )
