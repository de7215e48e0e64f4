"""The package import graph, read from the source with ast (nothing is imported): no import cycle
at module level, and the layers import one way (README, Layout):

- training/, data/, evaluation/ never import app/ or medalign/; the one exception is
  training/__main__.py (`python -m training`), which imports medalign.commands.train, and that
  module, with everything it imports at module level, never reaches app/;
- evaluation/ never imports training/;
- bench/ never imports tests/, tests/ never import bench/ (shared set-up lives in medalign/testing/).

Imports inside functions count for the layer rules (they run too); the cycle rule looks at
module-level imports, the ones that run when a module is first imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "data", "training", "evaluation", "medalign", "bench", "tests")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if "migrations" not in p.parts}


MODULES = project_modules()


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, importer: str) -> list[str]:
    """The project modules an import statement loads (a name that is a submodule counts as that module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer.split(".")
            if MODULES.get(importer, Path()).name != "__init__.py":
                package = package[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:  # `import a.b.c` of a name that is not a module: its package
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def imports(module: str) -> tuple[set[str], set[str]]:
    """(module-level imports, all imports) of a project module, as project module names."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    top: set[str] = set()
    every: set[str] = set()

    def visit(node: ast.AST, at_top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                targets = set(_targets(child, module)) - {module}
                every.update(targets)
                if at_top:
                    top.update(targets)
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, at_top and not nested)

    visit(tree, True)
    return top, every


GRAPH = {module: imports(module) for module in MODULES}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_is_read():
    assert "medalign.cli" in MODULES and "training.__main__" in MODULES
    assert "medalign.commands.train" in GRAPH["training.__main__"][0]
    assert "data.records" in GRAPH["evaluation.contract"][0]


def test_no_module_level_import_cycle():
    cycles, state = [], {}

    def walk(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module][0]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                walk(target, stack + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            walk(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _violations(importers: tuple[str, ...], forbidden: tuple[str, ...], allowed=frozenset()) -> list[str]:
    return sorted(f"{module} imports {target}" for module, (_, every) in GRAPH.items()
                  if any(_in(module, p) for p in importers)
                  for target in every if any(_in(target, p) for p in forbidden) and (module, target) not in allowed)


def test_lower_layers_never_import_the_app_or_the_command_line():
    entry = {("training.__main__", "medalign.commands.train")}
    assert not _violations(("training", "data", "evaluation"), ("app", "medalign"), entry)


def test_the_training_entry_never_reaches_the_app():
    """`python -m training` (every rank of `accelerate launch`) loads no web app: medalign.commands.train
    and what it imports at module level stay out of app/."""
    reached, todo = set(), ["training.__main__"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(GRAPH[module][0])
    assert not [m for m in reached if _in(m, "app")]


def test_evaluation_never_imports_training():
    assert not _violations(("evaluation",), ("training",))


def test_bench_and_tests_do_not_import_each_other():
    assert not _violations(("bench",), ("tests",)) + _violations(("tests",), ("bench",))


def _puts_bench_on_the_path(path: Path) -> bool:
    """A sys.path.insert/append whose argument names bench (a way around the rule: `import loadtest`)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("insert", "append")
                and ast.unparse(node.func.value) == "sys.path" and "bench" in ast.unparse(node)):
            return True
    return False


def test_tests_do_not_reach_bench_through_sys_path():
    """bench/ on sys.path would also shadow installed packages (bench/coverage.py hid `coverage` from numba)."""
    assert not [name for name, path in MODULES.items() if _in(name, "tests") and _puts_bench_on_the_path(path)]
