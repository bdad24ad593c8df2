"""Imports inside `harness/` point one way, down the layer folders: foundation -> measures -> data -> model ->
training -> evaluators -> gating -> report -> capabilities -> plugin -> api/suites -> commands; and no module imports
itself in a circle.

Each layer is a folder (or, for `capabilities` and `api`, one module), so the folder layout is the architecture:
a new module belongs to the folder it sits in. `KNOWN_UPWARD` lists upward edges still to be removed (none now); the
test fails on any other upward edge, on a cycle, and on a listed edge that no longer exists (the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

HARNESS = ROOT / "harness"

LAYERS = [  # lowest first: a module may import its own layer and every layer before it
    ("foundation", ["harness", "harness.foundation"]),
    ("measures", ["harness.measures"]),
    ("data", ["harness.data"]),
    ("model", ["harness.model"]),
    ("training", ["harness.training"]),
    ("evaluators", ["harness.evaluators"]),
    ("gating", ["harness.gating"]),
    ("report", ["harness.report"]),
    ("capabilities", ["harness.capabilities"]),
    ("plugin", ["harness.plugin"]),
    ("api/suites", ["harness.api", "harness.suites"]),
    ("commands", ["harness.commands"]),
]

KNOWN_UPWARD: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    """Dotted module name of a file under harness/."""
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def harness_imports(path: Path) -> set[str]:
    """The harness modules a file imports (at any depth of its syntax tree, deferred imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name == "harness" or name.startswith("harness.")}


def layer_of(module: str) -> int:
    """Index in LAYERS of the layer holding `module` (the longest matching prefix decides)."""
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or (prefix != "harness" and module.startswith(prefix + "."))]
    if not matches:
        raise AssertionError(f"{module} is in no layer of tests/fast/test_layers.py: place it in LAYERS")
    return max(matches)[1]


def import_graph() -> dict[str, set[str]]:
    """module -> the harness modules it imports, for every module under harness/."""
    return {module_name(path): harness_imports(path) - {module_name(path)} for path in HARNESS.rglob("*.py")}


def upward_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(from layer, to layer) -> the 'a -> b' imports that go from a lower layer to a higher one."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, imports in graph.items():
        for target in imports:
            if layer_of(target) > layer_of(module):
                key = (LAYERS[layer_of(module)][0], LAYERS[layer_of(target)][0])
                edges.setdefault(key, []).append(f"{module} -> {target}")
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles among harness modules (each reported once, as a path that returns to its start)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_every_harness_module_sits_in_a_layer():
    assert all(layer_of(module) >= 0 for module in import_graph())


def test_imports_point_down_the_layers():
    edges = upward_edges(import_graph())
    unexpected = {key: value for key, value in edges.items() if key not in KNOWN_UPWARD}
    assert not unexpected, f"upward imports: {unexpected}"
    gone = KNOWN_UPWARD - set(edges)
    assert not gone, f"these upward edges are gone: remove them from KNOWN_UPWARD: {gone}"


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checks_catch_a_planted_upward_edge_and_a_planted_cycle():
    graph = {"harness.data": {"harness.model.lm"}, "harness.model.lm": {"harness.data"}}
    assert upward_edges(graph) == {("data", "model"): ["harness.data -> harness.model.lm"]}
    assert cycles(graph) == [["harness.data", "harness.model.lm", "harness.data"]]
    with pytest.raises(AssertionError, match=r"harness\.newthing is in no layer"):
        layer_of("harness.newthing")
