"""The layout is the architecture: layers import downwards only, no module imports itself in a
circle, modules stay small, and the light entry points stay light (read from the source with
ast, and checked in fresh interpreters)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ray_xr"
# Bottom to top, as the ray_xr package docstring draws them; a module may import its own layer
# and those below it.
LAYERS = (
    {"ray_xr.errors", "ray_xr.storage", "ray_xr.stages", "ray_xr.metrics"},
    {"ray_xr.data"},
    {"ray_xr.noise"},
    {"ray_xr.tasks"},
    {"ray_xr.plan"},
    {"ray_xr.report"},
    {"ray_xr.run"},
    {"ray_xr.cli"},
)
MAX_LINES = 400
MAX_FUNCTION_LINES = 50  # of code, the docstring not counted
# the training loop may be longer, but linear (STYLE.md: nanoGPT's train.py, torchtune's recipes)
LONGER = {"ray_xr.run.train.train_loop": 70}
# Modules beside the subpackages: only the bottom layer's; everything else has a subpackage of its concept
MAX_TOP_LEVEL = 8


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The ray_xr modules a file imports anywhere in it (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ray_xr")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ray_xr"):
            for alias in node.names:  # `from ray_xr.data import formats` names a module
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    return out


def layer(module: str) -> int:
    for i, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) - {name} for name, path in mods.items()}


def test_every_module_is_in_a_layer_and_imports_only_downwards():
    wrong = [f"{m} (layer {layer(m)}) imports {dep} (layer {layer(dep)})"
             for m, deps in graph().items() for dep in deps
             if dep != "ray_xr" and layer(dep) > layer(m)]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    edges = graph()
    # a package's __init__ importing its own submodules is how it re-exports them, not a circle
    edges = {m: {d for d in deps if not (d.startswith(m + ".") and modules()[m].name == "__init__.py")}
             for m, deps in edges.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(edges.get(m, ())):
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(dep):] + [dep]))
            if dep in edges and not state.get(dep):
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if not state.get(m):
            visit(m)


def test_few_modules_at_the_top_level():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


def test_modules_are_small():
    long = {name: n for name, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_functions_are_short():
    long = {}
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = node.body[0] if ast.get_docstring(node, clean=False) is not None else None
                lines = node.end_lineno - node.lineno + 1 - (doc.end_lineno - doc.lineno + 1 if doc else 0)
                if lines > LONGER.get(f"{name}.{node.name}", MAX_FUNCTION_LINES):
                    long[f"{name}.{node.name}"] = lines
    assert not long, long


def test_subpackages_say_what_they_own_and_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Owns:" in doc and "May import" in doc, init


def test_no_private_ray_imports():
    private = [f"{name}: {dep}" for name, p in modules().items()
               for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, (ast.Import, ast.ImportFrom))
               for dep in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
               if dep.startswith("ray.") and ("._internal" in dep or "._private" in dep)]
    assert not private, private


@pytest.mark.parametrize("module, banned", [
    ("ray_xr.noise", ("torch", "ray", "pydantic", "yaml", "ray_xr.tasks", "ray_xr.plan")),
    ("ray_xr.cli", ("torch", "ray", "pydantic", "yaml", "ray_xr.tasks")),
    ("ray_xr.tasks", ("torch", "ray")),
    ("ray_xr.plan", ("torch", "ray")),
    ("ray_xr.plan.cost", ("torch", "ray")),
    ("ray_xr.plan.progress", ("torch", "ray")),
    ("ray_xr.cli.data", ("torch", "ray")),
    ("ray_xr.cli.commands", ("torch", "ray")),
    ("ray_xr.report.power", ("torch", "ray")),
    ("ray_xr.report.render", ("torch", "ray", "ray_xr.tasks")),
    ("ray_xr.report.export", ("torch", "ray", "ray_xr.tasks")),
])
def test_light_entry_points_stay_light(module, banned):
    code = (f"import sys, {module}; "
            f"print(' '.join(m for m in {banned!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not loaded, f"importing {module} loads {loaded}"
