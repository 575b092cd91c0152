"""No import cycles between moprune's modules, and every module imports on its own."""

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import moprune

PACKAGE = Path(moprune.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Names imported when the module is imported: its top level, including try/if
    blocks, but not ``if TYPE_CHECKING:`` and not inside functions (deferred on purpose)."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        inner = list(ast.walk(node)) if isinstance(node, (ast.If, ast.Try)) else [node]
        for n in inner:
            if isinstance(n, ast.Import):
                names += [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                names += [n.module, *(f"{n.module}.{a.name}" for a in n.names)]
    return names


def _all_imports(tree: ast.Module) -> list[str]:
    """Every name the module may import, at its top level or deferred inside a function
    (but not under ``if TYPE_CHECKING:``, which never runs)."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    names = []
    for n in ast.walk(tree):
        if id(n) in skip:
            continue
        if isinstance(n, ast.Import):
            names += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            names += [n.module, *(f"{n.module}.{a.name}" for a in n.names)]
    return names


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the moprune modules its import imports directly (with ``deferred``, also
    those its functions import when they run)."""
    modules = _modules()
    find = _all_imports if deferred else _module_level_imports
    return {m: {n for n in find(ast.parse(f.read_text())) if n in modules and n != m}
            for m, f in modules.items()}


def test_the_import_graph_has_no_cycle():
    try:
        order = list(TopologicalSorter(import_graph()).static_order())
    except CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")
    assert order[0].startswith("moprune") and len(order) == len(_modules())


def test_no_cycle_either_with_the_imports_deferred_into_functions():
    """A deferred import still makes the module depend on the one it imports: counted, the
    modules still form layers (a low module, config or pruning, never reaches up)."""
    try:
        list(TopologicalSorter(import_graph(deferred=True)).static_order())
    except CycleError as e:
        pytest.fail(f"import cycle through deferred imports: {' -> '.join(e.args[1])}")


def test_a_cycle_would_be_found():
    graph = import_graph()
    graph["moprune.errors"] = {"moprune.config"}  # config imports errors
    with pytest.raises(CycleError):
        list(TopologicalSorter(graph).static_order())


def test_every_module_imports_in_dependency_order_in_a_fresh_interpreter():
    order = list(TopologicalSorter(import_graph()).static_order())
    code = ("import importlib, sys\n"
            f"for name in {order!r}:\n"
            "    importlib.import_module(name)\n"
            "print(len(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_command_line_parses_without_torch_or_optuna():
    """`moprune --help` / `--version` answer at once because building the parser imports
    neither torch nor Optuna (benchmarks/bench_cli.py times it)."""
    code = ("import sys\n"
            "from moprune.cli import build_parser\n"
            "build_parser()\n"
            "print(sorted(m for m in ('torch', 'optuna', 'numpy') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_subpackages_are_attributes_after_import_moprune():
    code = ("import moprune\n"
            "print(moprune.data.from_tensors.__name__, moprune.front.Path.__name__,\n"
            "      moprune.hpo.tune.__name__, moprune.pruning.compact.__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["from_tensors", "Path", "tune", "compact"]
