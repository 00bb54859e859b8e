"""MLflow's REST API read through the bounded client, answering with MLflow's own entities.

It offers the reading methods of ``MlflowClient`` that the MLflow source uses, so a tracking
server is read with a total deadline and a size cap per request; answers are checked against
MLflow's protobuf schema, and a wrongly typed one is the server's fault. Metric histories come
as plain (step, timestamp, value) points instead, page by page.
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Iterator
from operator import itemgetter
from typing import Any
from urllib.parse import urlsplit

from govrl.evidence.interface import Point
from govrl.evidence.transport import BoundedHttp, HttpStatusError, ServerMisbehaved, b64, inert

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
HISTORY = API + "/metrics/get-history"
BULK_HISTORY = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
HISTORY_PAGE = 25_000  # points per answer when a history is read page by page
_MALFORMED = (AttributeError, KeyError, TypeError, ValueError, OverflowError)


def _point(m: Any) -> Point:
    """One point of a history answer (proto JSON leaves a zero step or timestamp out)."""
    return int(m.get("step", 0)), int(m.get("timestamp", 0)), float(m["value"])


class MlflowRest:
    """The reading half of ``MlflowClient`` over HTTP, bounded per request."""

    def __init__(self, http: BoundedHttp) -> None:
        self.http = http

    @classmethod
    def connect(cls, uri: str, timeout: float, max_bytes: int) -> MlflowRest:
        """A reader authenticated as MlflowClient would be: user or token, TLS settings."""
        from mlflow.tracking.request_header.registry import resolve_request_headers
        from mlflow.utils.credentials import get_default_host_creds

        creds = get_default_host_creds(uri)  # type: ignore[no-untyped-call]
        headers = dict(resolve_request_headers())  # type: ignore[no-untyped-call]
        if creds.username and creds.password:
            headers["Authorization"] = "Basic " + b64(f"{creds.username}:{creds.password}".encode())
        elif creds.token:
            headers["Authorization"] = f"Bearer {creds.token}"
        context = None
        if urlsplit(uri).scheme == "https":
            context = ssl.create_default_context(cafile=creds.server_cert_path or None)
            if creds.ignore_tls_verification:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if creds.client_cert_path:
                context.load_cert_chain(creds.client_cert_path)
        return cls(BoundedHttp(uri, timeout, headers, context, max_bytes))

    def _get(self, path: str, response: Any, **params: Any) -> Any:
        return self._parse(self.http.get_json(API + path, params), response, API + path)

    def _parse(self, data: dict[str, Any], response: Any, path: str) -> Any:
        from google.protobuf.json_format import ParseError  # type: ignore[import-untyped]
        from mlflow.utils.proto_json_utils import parse_dict

        message = response()
        try:
            parse_dict(data, message)  # type: ignore[no-untyped-call]
        except (ParseError, TypeError, ValueError, AttributeError) as exc:
            raise self.malformed(path, str(exc).split("\n", 1)[0]) from None
        return message

    def malformed(self, path: str, why: str) -> ServerMisbehaved:
        url = self.http.shown(self.http.url(path))
        return ServerMisbehaved(
            f"the server's answer for {url} is not what MLflow's API promises: {inert(why)}"
        )

    def _require(self, found: str, path: str, what: str) -> None:
        if not found:
            raise self.malformed(API + path, f"it names no {what}")

    # -------------------------------------------------------------- runs

    def get_run(self, run_id: str) -> Any:
        from mlflow.entities import Run
        from mlflow.protos.service_pb2 import GetRun

        answer = self._get("/runs/get", GetRun.Response, run_id=run_id)
        self._require(answer.run.info.run_id, "/runs/get", "run")
        return Run.from_proto(answer.run)

    def search_runs(self, experiment_ids: list[str], filter_string: str, max_results: int) -> Any:
        from mlflow.entities import Run
        from mlflow.protos.service_pb2 import SearchRuns

        body = {
            "experiment_ids": experiment_ids,
            "filter": filter_string,
            "max_results": max_results,
            "run_view_type": "ACTIVE_ONLY",
        }
        data = self.http.post_json(API + "/runs/search", body)
        answer = self._parse(data, SearchRuns.Response, API + "/runs/search")
        for run in answer.runs:
            self._require(run.info.run_id, "/runs/search", "run id for one of its runs")
        return [Run.from_proto(run) for run in answer.runs]

    # ------------------------------------------------------------ histories
    # Read straight from the JSON: a protobuf message and an entity per point would cost more
    # than the request itself, and these answers are the largest the server gives.

    def history_bulk(
        self, key: str, run_ids: list[str], limit: int
    ) -> tuple[dict[str, list[Point]], int]:
        """The key's points in one bulk answer, by run in the answer's order, and their count.

        An answer of ``limit`` points may have been cut short.
        """
        params = {"run_id": run_ids, "metric_key": key, "max_results": limit}
        metrics = self._metrics(BULK_HISTORY, self.http.get_json(BULK_HISTORY, params))
        try:  # inline rather than _point: this runs once a point
            points = [
                (int(m.get("step", 0)), int(m.get("timestamp", 0)), float(m["value"]))
                for m in metrics
            ]
            runs = [str(m["run_id"]) for m in metrics]
        except _MALFORMED:
            raise self._bad_point(BULK_HISTORY, metrics, runs=True) from None
        found: dict[str, list[Point]] = {}
        for run_id, group in itertools.groupby(zip(runs, points, strict=True), itemgetter(0)):
            found.setdefault(run_id, []).extend(map(itemgetter(1), group))
        return found, len(points)

    def history_pages(self, run_id: str, key: str) -> Iterator[list[Point]]:
        """The key's history in the run, an answer of at most ``HISTORY_PAGE`` points at a time."""
        token: str | None = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
            data = self.http.get_json(HISTORY, params | ({"page_token": token} if token else {}))
            metrics = self._metrics(HISTORY, data)
            try:
                points = [_point(m) for m in metrics]
            except _MALFORMED:
                raise self._bad_point(HISTORY, metrics, runs=False) from None
            yield points
            following = data.get("next_page_token") or None
            if following is None:
                return
            if not isinstance(following, str) or following == token:
                raise self.malformed(HISTORY, f"its next page token {following!r} leads nowhere")
            token = following

    def _metrics(self, path: str, data: dict[str, Any]) -> list[Any]:
        metrics = data.get("metrics", [])
        if not isinstance(metrics, list):
            raise self.malformed(path, "'metrics' is not a list")
        return metrics

    def _bad_point(self, path: str, metrics: list[Any], *, runs: bool) -> ServerMisbehaved:
        """The server's fault, naming the first point that is not one."""
        for m in metrics:
            try:
                _point(m)
                if runs:
                    str(m["run_id"])
            except _MALFORMED:
                return self.malformed(path, f"a point is malformed: {m!r}")
        return self.malformed(path, "a point is malformed")

    # -------------------------------------------------------- experiments

    def get_experiment(self, experiment_id: str) -> Any:
        from mlflow.entities import Experiment
        from mlflow.protos.service_pb2 import GetExperiment

        answer = self._get("/experiments/get", GetExperiment.Response, experiment_id=experiment_id)
        self._require(answer.experiment.experiment_id, "/experiments/get", "experiment")
        return Experiment.from_proto(answer.experiment)

    def get_experiment_by_name(self, name: str) -> Any:
        from mlflow.entities import Experiment
        from mlflow.protos.service_pb2 import GetExperimentByName

        path = "/experiments/get-by-name"
        try:
            answer = self._get(path, GetExperimentByName.Response, experiment_name=name)
        except HttpStatusError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        self._require(answer.experiment.experiment_id, path, "experiment")
        return Experiment.from_proto(answer.experiment)

    # ------------------------------------------------------------ models

    def get_model_version(self, name: str, version: str) -> Any:
        from mlflow.entities.model_registry import ModelVersion
        from mlflow.protos.model_registry_pb2 import GetModelVersion

        path = "/model-versions/get"
        answer = self._get(path, GetModelVersion.Response, name=name, version=version)
        self._require(answer.model_version.version, path, "model version")
        return ModelVersion.from_proto(answer.model_version)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        from mlflow.entities.model_registry import ModelVersion
        from mlflow.protos.model_registry_pb2 import GetModelVersionByAlias

        path = "/registered-models/alias"
        answer = self._get(path, GetModelVersionByAlias.Response, name=name, alias=alias)
        self._require(answer.model_version.version, path, "model version")
        return ModelVersion.from_proto(answer.model_version)

    def get_registered_model(self, name: str) -> Any:
        from mlflow.entities.model_registry import RegisteredModel
        from mlflow.protos.model_registry_pb2 import GetRegisteredModel

        path = "/registered-models/get"
        answer = self._get(path, GetRegisteredModel.Response, name=name)
        self._require(answer.registered_model.name, path, "registered model")
        return RegisteredModel.from_proto(answer.registered_model)  # type: ignore[no-untyped-call]

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.http.post_json(API + "/model-versions/set-tag", body)

    # --------------------------------------------------------- artifacts

    @staticmethod
    def serves(artifact_uri: str) -> bool:
        """Whether the tracking server itself serves this artifact URI (``mlflow-artifacts:/``)."""
        parts = urlsplit(artifact_uri)
        return parts.scheme == "mlflow-artifacts" and not parts.netloc

    def list_artifacts(self, artifact_uri: str, folder: str) -> list[tuple[str, bool, int]]:
        """(path under the run's artifacts, is a folder, size) for each entry of ``folder``."""
        root = urlsplit(artifact_uri).path.strip("/")
        data = self.http.get_json(ARTIFACTS, {"path": f"{root}/{folder}".strip("/")})
        files = data.get("files", [])
        if not isinstance(files, list):
            raise self.malformed(ARTIFACTS, "'files' is not a list")
        listed = []
        for entry in files:
            name = entry.get("path") if isinstance(entry, dict) else None
            size = (entry.get("file_size") or 0) if isinstance(entry, dict) else None
            if not (isinstance(name, str) and isinstance(size, int | str) and str(size).isdigit()):
                raise self.malformed(ARTIFACTS, f"an entry is malformed: {entry!r}")
            listed.append((f"{folder}/{name}".strip("/"), bool(entry.get("is_dir")), int(size)))
        return listed

    def read_artifact(self, artifact_uri: str, path: str, max_bytes: int) -> bytes:
        """The artifact file's bytes, refused past ``max_bytes`` whatever its listing claimed."""
        root = urlsplit(artifact_uri).path.strip("/")
        target = self.http.url(f"{ARTIFACTS}/{root}/{path}")
        return self.http.request("GET", target, max_bytes=max_bytes).body

    def write_artifact(self, artifact_uri: str, path: str, content: bytes) -> None:
        """Store ``content`` as the artifact file ``path``, in one bounded request."""
        root = urlsplit(artifact_uri).path.strip("/")
        target = self.http.url(f"{ARTIFACTS}/{root}/{path}")
        self.http.request("PUT", target, content, content_type="application/octet-stream")
