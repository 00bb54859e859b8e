"""Nothing leaks into a document: hostile text stays text; templates fetch only their own files."""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import io
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from pydantic import ValidationError
from pypdf import PdfReader

from govrl.documents.markdown import md_escape
from govrl.documents.render import Format, Kind, Rendered, render, shipped_templates
from govrl.documents.templating import TemplateFailure
from govrl.record import AssessmentRecord
from govrl.record.identity import canonical_json
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from govrl.vocabulary import Domain, RiskTier
from govrl.yamlio import load
from tests.support.paths import DATA

DATE = dt.date(2026, 5, 1)
LIBRARY = ChecklistLibrary.discover()
POLICY = load_policy()


class Listener:
    """A local HTTP server that records every request that reaches it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"LEAKED-OVER-HTTP")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as server:
        yield server


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, str]:
    token = "SECRET-" + secrets.token_hex(8)
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(token)
    return path, token


def payloads(port: int, secret: Path) -> tuple[str, str]:
    """A long payload for free text and a short one for names (at most 200 characters)."""
    long = (
        "<b>bold</b><script>alert(1)</script>"
        f'<img src="file://{secret}"><img src="http://127.0.0.1:{port}/img">'
        f'<link rel="attachment" href="file://{secret}">'
        f'<a rel="attachment" href="http://127.0.0.1:{port}/att">att</a>'
        f"<style>@import url(http://127.0.0.1:{port}/css); "
        f"body {{ background: url(file://{secret}) }}</style>"
        f'<svg><image href="file://{secret}"/></svg>'
        f'<iframe src="http://127.0.0.1:{port}/frame"></iframe>'
        "{{ 7*7 }} {{ 1111*3 }} {% if true %}JINJA{% endif %} {{ ''.__class__ }}"
    )
    short = f'<a rel="attachment" href="http://127.0.0.1:{port}/n">n</a>{{{{ 1111*3 }}}}'
    assert len(short) < 180
    return long, short


def rich_record() -> dict[str, Any]:
    """The minimal record with every optional free-text section filled, at tier 3."""
    data = copy.deepcopy(load(DATA / "valid-minimal.yaml").data)
    data["system"]["risk_tier"] = 3
    data["system"]["contacts"] = [{"name": "Ops", "role": "on-call", "organisation": "Org"}]
    data["system"]["regulatory"].update(high_risk=True, other_regimes=["GDPR"], notes="n")
    use = data["intended_use"]
    use.update(
        affected_people=["readers"],
        out_of_scope=["children"],
        foreseeable_misuse=["misuse"],
        alternatives_considered=[{"approach": "heuristic", "outcome": "kept"}],
    )
    model = data["model"]
    model.update(description="d", decision_interval="1 s", hyperparameters={"lr": "3e-4 text"})
    model["simulators"][0].update(description="sim", validation="checked")
    model["datasets"] = [
        {
            "name": "logs",
            "version": "1",
            "role": "test",
            "description": "d",
            "size": "10",
            "source": "s",
        }
    ]
    model["artifacts"] = [{"name": "policy", "uri": "models:/p/1"}]
    reward = data["reward"]
    reward.update(failure_modes=[{"id": "f", "description": "f"}], source="reward.py")
    reward["oversight_metrics"] = [{"name": "o", "description": "d", "why_not_in_reward": "w"}]
    reward["learned"] = {"method": "m", "annotators": "a", "agreement": "g", "validation": "v"}
    ev = data["evaluation"]
    ev["metrics"][0].update(description="d", unit="points", split="test")
    ev["metrics"][0].update(direction="within-band", target={"low": 0.0, "high": 100.0})
    ev["metrics"][0]["provenance"] = {"source": "manual", "note": "n", "experiment": "e"}
    ev["off_policy"] = [
        {
            "id": "dr",
            "estimator": "DR",
            "target": "return",
            "value": 1.0,
            "ess": 150.0,
            "behaviour_value": 0.5,
            "notes": "n",
        }
    ]
    ev["stress_tests"] = [
        {
            "id": "s",
            "scenario": "shift",
            "kind": "distribution-shift",
            "description": "d",
            "metric": "m",
            "value": 1.0,
            "failure_modes": ["f"],
            "passed": True,
        }
    ]
    ev["subgroups"] = [
        {"attribute": "region", "group": g, "metric": "m", "n": 40, "value": 0.5}
        for g in ("north", "south")
    ]
    ev["ood_detection"] = {"method": "m", "evaluated_on": "e", "auroc": 0.9, "on_detection": "o"}
    ev.update(limitations=["l"], negative_results=["r"])
    data["deployment"].update(
        human_override="editors",
        fallback="heuristic",
        rollout_stages=[
            {
                "name": "s1",
                "exposure": "e",
                "sites": ["site"],
                "population": "p",
                "traffic_share": 0.1,
                "authority": "shadow",
                "exit_criteria": "x",
                "duration": "1w",
            }
        ],
        requested_stage="s1",
    )
    data["conditions"] = [
        {
            "id": "C-1",
            "raised_by": "item:general-rl/GEN-IU-01",
            "description": "d",
            "owner": "o",
            "due": "2026-06-01",
            "closed_by": "c",
        }
    ]
    data["monitoring"]["update_triggers"] = ["t"]
    data["monitoring"]["metrics"][0]["description"] = "d"
    data["checklists"] = [
        {
            "id": c.id,
            "version": c.version,
            "items": {
                i.id: {
                    "answer": "no",
                    "notes": "n",
                    "evidence": ["e"],
                    "answered_by": "a",
                    "answered_at": "2026-04-01T00:00:00Z",
                }
                for i in c.applicable(RiskTier.HIGH)[:3]
            },
        }
        for c in LIBRARY.for_domain(Domain.RECOMMENDER)
    ]
    return data


def poison(data: dict[str, Any], long: str, short: str) -> tuple[AssessmentRecord, int]:
    """Every string the schema lets be free text, replaced by a hostile payload."""
    leaves: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))
        elif isinstance(node, str) and path != ("schema_version",):
            leaves.append(path)

    def put(path: tuple[Any, ...], value: Any) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    walk(data, ())
    original = {p: _get(data, p) for p in leaves}
    state = {}
    for n, path in enumerate(leaves):
        put(path, f"{long} #{n}")
        state[path] = "long"
    put(("changelog", 0, "version"), _get(data, ("system", "version")))
    for _ in range(10):
        try:
            return AssessmentRecord.model_validate(data), sum(
                1 for s in state.values() if s != "original"
            )
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                hits = [p for p in leaves if p[: len(loc)] == loc and state[p] != "original"]
                for path in hits:
                    if state[path] == "long":
                        put(path, f"{short}{leaves.index(path)}")
                        state[path] = "short"
                    else:
                        put(path, original[path])
                        state[path] = "original"
            put(("changelog", 0, "version"), _get(data, ("system", "version")))
    raise AssertionError("could not build a valid hostile record")


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(content: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def uncompressed(content: bytes, tmp_path: Path) -> bytes:
    """The PDF with every stream decompressed, so a search sees embedded bytes."""
    source, target = tmp_path / "in.pdf", tmp_path / "qdf.pdf"
    source.write_bytes(content)
    subprocess.run(
        ["qpdf", "--qdf", "--object-streams=disable", str(source), str(target)], check=True
    )
    return target.read_bytes()


def assert_nothing_embedded(
    rendered: Rendered, record: AssessmentRecord, token: str, tmp_path: Path
) -> None:
    reader = PdfReader(io.BytesIO(rendered.content))
    assert reader.attachments == {"record.json": [canonical_json(record)]}
    for page in reader.pages:
        for annot in page.get("/Annots", []):
            assert annot.get_object()["/Subtype"] != "/FileAttachment"
    raw = uncompressed(rendered.content, tmp_path)
    assert token.encode() not in raw and b"LEAKED-OVER-HTTP" not in raw
    assert b"/FileAttachment" not in raw and b"/JavaScript" not in raw


@pytest.mark.pdf
@pytest.mark.slow
def test_hostile_record_text_is_printed_literally_and_fetches_nothing(
    listener: Listener, secret: tuple[Path, str], tmp_path: Path
) -> None:
    secret_path, token = secret
    long, short = payloads(listener.port, secret_path)
    record, poisoned = poison(rich_record(), long, short)
    assert poisoned > 60  # most free text in every section carries the payload
    assert record.evaluation.limitations[0].startswith("<b>bold</b>")
    for kind in Kind:
        pdf = render(record, kind=kind, policy=POLICY, library=LIBRARY, on=DATE)
        assert pdf.refused == []  # no markup reached WeasyPrint, so nothing was even tried
        assert_nothing_embedded(pdf, record, token, tmp_path)
        text = flat(pdf_text(pdf.content))
        # Both print the long payload (the approval in its scope and conditions) and names
        # (the short one).
        literals = [short.split("{{")[0], "{{ 1111*3 }}", "<script>alert(1)</script>"]
        if kind is Kind.MODEL_CARD:
            literals += [
                "<script>alert(1)</script>",
                "{{ 7*7 }}",
                "{% if true %}JINJA{% endif %}",
                f'<link rel="attachment" href="file://{secret_path}">',
                "{{ ''.__class__ }}",
            ]
        for literal in literals:
            assert flat(literal) in text, literal
        assert "3333" not in text and "LEAKED" not in text and token not in text

        html = render(
            record, kind=kind, fmt=Format.HTML, policy=POLICY, library=LIBRARY, on=DATE
        ).content.decode()
        for literal in literals:
            assert str(escape(literal)) in html, literal
        assert "<script>" not in html and "<iframe" not in html and "<img" not in html
        assert 'rel="attachment"' not in html and "3333" not in html
        md = render(
            record, kind=kind, fmt=Format.MD, policy=POLICY, library=LIBRARY, on=DATE
        ).content.decode()
        for literal in literals:
            assert md_escape(literal) in md, literal
        assert re.search(r"(?<!\\)<[a-z/]", md) is None  # every tag opener is escaped
        assert "3333" not in md
    assert listener.requests == []


def hostile_templates(tmp_path: Path, port: int) -> tuple[Path, str, str]:
    """A copy of the shipped templates that tries to read outside its folder."""
    token, inside_token = "OUTSIDE-" + secrets.token_hex(6), "INSIDE-" + secrets.token_hex(6)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="20">'
        '<text y="15">{}</text></svg>'
    )
    (outside / "secret.svg").write_text(svg.format(token))
    (outside / "evil.css").write_text(f'body::after {{ content: "{token}"; }}')
    (outside / "evil.html").write_text(token)
    folder = tmp_path / "templates"
    shutil.copytree(shipped_templates(), folder)
    (folder / "inside.svg").write_text(svg.format(inside_token))
    (folder / "linked.svg").symlink_to(outside / "secret.svg")
    (folder / "linked.css").symlink_to(outside / "evil.css")
    page = (folder / "model-card.html").read_text()
    probe = (
        '<img src="inside.svg"><img src="../elsewhere/secret.svg"><img src="linked.svg">'
        '<link rel="stylesheet" href="../elsewhere/evil.css">'
        '<link rel="stylesheet" href="linked.css">'
        '<link rel="attachment" href="../elsewhere/secret.svg">'
        '<a rel="attachment" href="inside.svg">attach</a>'
        f'<img src="http://127.0.0.1:{port}/img">'
        '<div style="background: url(../elsewhere/secret.svg)">x</div>'
    )
    (folder / "model-card.html").write_text(
        page.replace("{% block content %}", "{% block content %}" + probe)
    )
    return folder, token, inside_token


@pytest.mark.pdf
@pytest.mark.slow
def test_a_template_folder_cannot_reach_outside_itself(listener: Listener, tmp_path: Path) -> None:
    folder, token, inside_token = hostile_templates(tmp_path, listener.port)
    record = AssessmentRecord.model_validate(load(DATA / "valid-minimal.yaml").data)
    rendered = render(
        record, kind=Kind.MODEL_CARD, policy=POLICY, library=LIBRARY, on=DATE, template_dir=folder
    )
    refused = " ".join(rendered.refused)
    assert "elsewhere/secret.svg" in refused and "elsewhere/evil.css" in refused  # ../
    assert "linked.svg" in refused and "linked.css" in refused  # symlinks out
    assert f"127.0.0.1:{listener.port}" in refused
    text = pdf_text(rendered.content)
    assert inside_token in text  # the folder's own files still load
    assert token not in text
    assert_nothing_embedded(rendered, record, token, tmp_path)
    assert listener.requests == []


def test_a_template_cannot_include_a_file_outside_its_folder(tmp_path: Path) -> None:
    folder, token, _ = hostile_templates(tmp_path, 9)
    (folder / "sneaky.html").symlink_to(tmp_path / "elsewhere" / "evil.html")
    page = (folder / "approval.html").read_text()
    record = AssessmentRecord.model_validate(load(DATA / "valid-minimal.yaml").data)
    for include in ('{% include "sneaky.html" %}', '{% include "../elsewhere/evil.html" %}'):
        (folder / "approval.html").write_text(
            page.replace("{% block content %}", "{% block content %}" + include)
        )
        with pytest.raises(TemplateFailure) as caught:
            render(
                record,
                kind=Kind.APPROVAL,
                fmt=Format.HTML,
                policy=POLICY,
                library=LIBRARY,
                on=DATE,
                template_dir=folder,
            )
        assert token not in caught.value.diagnostics()
        assert "not found" in caught.value.message


def test_the_fetcher_serves_only_data_uris_and_the_folder(tmp_path: Path) -> None:
    from govrl.documents.fetcher import ConfinedFetcher

    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.css").write_text("p {}")
    (tmp_path / "secret.txt").write_text("s")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    fetcher = ConfinedFetcher(folder)
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    response = fetcher.fetch((folder / "a.css").as_uri())
    assert response.read() == b"p {}" and response.headers.get_content_type() == "text/css"
    refused = [
        (tmp_path / "secret.txt").as_uri(),
        folder.as_uri() + "/../secret.txt",
        folder.as_uri() + "/%2e%2e/secret.txt",
        (folder / "link.txt").as_uri(),
        f"file://otherhost{folder}/a.css",
        folder.as_uri(),  # a folder, not a file
        "http://127.0.0.1:9/x",
        "https://example.org/x",
        "ftp://127.0.0.1/x",
    ]
    for url in refused:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.refused == refused
