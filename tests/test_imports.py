"""The package's import graph has no cycles, counting imports inside functions too.

A lazy import only hides a cycle: the two modules still cannot be understood apart.
"""

import ast
from pathlib import Path

import helpers

PACKAGE = Path(helpers.__file__).parent


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name, path):
    """The helpers modules that module ``name`` imports (submodules, not their packages)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != "helpers" and m != name}


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def cycles(graph):
    """Every cycle found by depth-first search, each as a list of module names."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_is_read():
    assert "helpers.engine.kernels" in GRAPH["helpers.engine.winograd"]
    assert "helpers.formulas" in GRAPH["helpers.layers"]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_counting_core_imports_no_engine_or_pipeline():
    core = [m for m, p in MODULES.items()
            if p.parent == PACKAGE and p.name not in ("__init__.py", "cli.py", "__main__.py")]
    for name in core:
        outside = {m for m in GRAPH[name] if m.split(".")[1] in ("engine", "answers", "release", "grading")}
        assert not outside, f"{name} imports {outside}"


def test_the_students_check_does_not_load_the_grader_or_release():
    reach, todo = set(), ["helpers.answers.checking"]
    while todo:
        for nxt in GRAPH[todo.pop()] - reach:
            reach.add(nxt)
            todo.append(nxt)
    assert not {m for m in reach if m.startswith(("helpers.grading", "helpers.release"))}
