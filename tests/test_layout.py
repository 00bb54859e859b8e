"""The house rules of the layout: imports point back along the flow, never forward or round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "govrl"

# The steps of the flow, in order. A module may import its own step and earlier ones.
STEPS = (
    (
        "base",
        (
            "govrl",
            "govrl.errors",
            "govrl.vocabulary",
            "govrl.resources",
            "govrl.atomicfile",
            "govrl.yamlio",
            "govrl.yamlmodel",
            "govrl.safetext",
            "govrl.outputs",
            "govrl.config",
        ),
    ),
    ("record", ("govrl.record",)),
    ("review", ("govrl.review",)),
    ("evidence", ("govrl.evidence",)),
    ("documents", ("govrl.documents",)),
    ("exports", ("govrl.exports",)),
    ("archive", ("govrl.archive",)),
    ("demo", ("govrl.demo",)),
    ("cli", ("govrl.cli", "govrl.__main__")),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of govrl (and click) that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [base]
            # `from govrl.documents import keys` names a module, not a package attribute
            targets += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
        for target in targets:
            if target.split(".")[0] == "click":
                found.add("click")
            elif target in MODULES:
                found.add(target)
            elif target.startswith("govrl."):
                raise AssertionError(f"{name} imports {target}, which does not exist")
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def step_of(module: str) -> int:
    best = (-1, -1)  # (length of the matching prefix, step index)
    for index, (_, prefixes) in enumerate(STEPS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    if best[1] < 0:
        raise AssertionError(f"{module} belongs to no step of the flow: add it to STEPS")
    return best[1]


def test_every_module_belongs_to_a_step() -> None:
    assert len(MODULES) > 50  # the walk found the package, not an empty folder
    for module in MODULES:
        step_of(module)


def test_no_module_imports_a_later_step() -> None:
    forward = [
        f"{module} ({STEPS[step_of(module)][0]}) imports {target} ({STEPS[step_of(target)][0]})"
        for module, targets in GRAPH.items()
        for target in sorted(targets - {"click"})
        if step_of(target) > step_of(module)
    ]
    assert forward == []


def test_only_the_command_line_imports_click() -> None:
    cli = STEPS[-1][1]
    users = sorted(m for m, targets in GRAPH.items() if "click" in targets)
    assert users, "no module imports click: the walk is broken"
    assert [m for m in users if not m.startswith(cli)] == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["govrl.errors", "govrl.vocabulary"])
def test_leaves_import_nothing_of_govrl(module: str) -> None:
    assert GRAPH[module] == set()
