"""Layers run one way: the base (records, store, errors, requirements, text checks, LM configuration, the runner, the
importers) imports no stage, judge, trainer or app module; the stages and the judge build on the base only; the
trainer reads the base only and never the LLM side; the app (`mira`: protocol, verifiers, audit, studio) builds on
all of them; only the CLI imports the CLI. Function-level imports count too, and the whole graph has no cycle, so no
import can hide a circle by moving into a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("synth", "judge", "train", "mira")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def import_edges() -> list[tuple[str, str, int]]:
    """(importer, imported project module, line) for every import statement, wherever it stands."""
    mods = project_modules()
    edges = []
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                target = resolve(mod, path.name == "__init__.py", node)
                names = [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                target, names = "", [a.name for a in node.names]
            else:
                continue
            for cand in [*names, target]:  # `from pkg import module` imports the module; else the package
                while cand and cand not in mods:
                    cand = cand.rpartition(".")[0]
                if cand and cand != mod:
                    edges.append((mod, cand, node.lineno))
                    break
    return edges


def layer(mod: str) -> str:
    if mod == "mira.cli" or mod.startswith("mira.cli."):
        return "cli"
    if mod.startswith("mira"):
        return "app"
    if mod.startswith("synth.stages"):
        return "stages"
    if mod.startswith("judge"):
        return "judge"
    if mod.startswith("train"):
        return "train"
    return "base"


ALLOWED = {
    "base": {"base"},
    "stages": {"base", "stages"},
    "judge": {"base", "judge"},
    "train": {"base", "train"},
    "app": {"base", "stages", "judge", "train", "app"},
    "cli": {"base", "stages", "judge", "train", "app", "cli"},
}


def test_every_import_goes_down_the_layers():
    wrong = [f"{a} ({layer(a)}) imports {b} ({layer(b)}) at line {line}" for a, b, line in import_edges()
             if layer(b) not in ALLOWED[layer(a)]]
    assert not wrong, "\n".join(wrong)


def test_the_trainer_never_imports_the_llm_side():
    bad = []
    for mod, path in project_modules().items():
        if layer(mod) != "train":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{mod}: {n}" for n in names if n.split(".")[0] in ("dspy", "litellm")]
    assert not bad, bad


def strongly_connected(edges: list[tuple[str, str, int]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_even_through_function_level_imports():
    # a package's __init__ re-exporting its own submodules is not a cycle between layers: leave those edges out
    edges = [(a, b, n) for a, b, n in import_edges() if not a.startswith(b + ".")]
    assert strongly_connected(edges) == []


@pytest.mark.parametrize("edges,expected", [
    ([("a", "b", 1), ("b", "a", 2)], [["a", "b"]]),
    ([("a", "b", 1), ("b", "c", 1), ("c", "a", 5), ("c", "d", 1)], [["a", "b", "c"]]),
    ([("a", "b", 1), ("b", "c", 1)], []),
])
def test_the_cycle_finder_on_hand_graphs(edges, expected):
    assert strongly_connected(edges) == expected


def test_the_layer_rules_catch_an_upward_import(tmp_path):
    """The walker really sees function-level imports: a base module importing the judge inside a function."""
    src = "def f():\n    from judge.rubric import load_rubric\n    return load_rubric\n"
    node = ast.parse(src)
    found = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
    assert [resolve("synth.store", False, n) for n in found] == ["judge.rubric"]
    assert layer("judge.rubric") not in ALLOWED[layer("synth.store")]
