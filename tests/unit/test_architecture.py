"""The shape of the package, checked: imports point down and never go round, pytest stays at
the top, and no module grows past what one job needs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pytest_xarch"
MAX_LINES = 400

# Lowest first. A module may import from its own layer and the ones below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("version", "errors", "fidelity", "files", "diskcache", "feedback", "containment",
     "process"),
    ("targets", "qemu_facts", "elf", "guestfs"),
    ("settings", "sysroot", "loader", "roots", "system"),
    ("checks", "verdicts", "runners", "toolchain", "binfmt_misc", "canary"),
    ("collect", "state", "report", "merging", "api"),
    ("plugin", "cli", "commands", "__init__"),
)
PYTEST_ALLOWED = ("plugin", "collect", "report")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"
        found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import, at any depth, except those under `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules `name` imports (`from . import mod` counts as `mod`)."""
    own = [] if name == "__init__" else name.split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            wanted = [(alias.name.split("."), []) for alias in node.names]
        elif node.level:
            base = package[: len(package) - (node.level - 1)]
            wanted = [(base + (node.module.split(".") if node.module else []),
                       [alias.name for alias in node.names])]
        else:
            wanted = [((node.module or "").split("."), [alias.name for alias in node.names])]
        for parts, members in wanted:
            if node.__class__ is not ast.ImportFrom or not node.level:
                if parts[0] != "pytest_xarch":
                    continue
                parts = parts[1:]
            module = ".".join(parts) or "__init__"
            submodules = [f"{module}.{member}" if module != "__init__" else member
                          for member in members]
            hits = [sub for sub in submodules if sub in MODULES]
            found.update(hits if hits else [module])
    found.discard(name)
    return {module for module in found if module in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    top = module.split(".")[0]
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"module {module} is in no layer: add it to LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_imports_point_down() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {other} (layer {_layer(other)})"
        for module, imported in GRAPH.items() for other in sorted(imported)
        if _layer(other) > _layer(module)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components of the import graph: all of size one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in GRAPH[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


def test_only_the_pytest_facing_modules_import_pytest() -> None:
    importers = []
    for module, path in MODULES.items():
        names = set()
        for node in _import_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif node.module and not node.level:
                names.add(node.module.split(".")[0])
        if names & {"pytest", "_pytest"} and module.split(".")[0] not in PYTEST_ALLOWED:
            importers.append(module)
    assert importers == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_size_of_one_job(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by job"


def test_every_hook_reaches_pytest() -> None:
    """The entry point registers the `plugin` package: a hook only `hooks` defines is dead."""
    import pytest_xarch.plugin as plugin
    from pytest_xarch.plugin import hooks

    defined = {name for name in vars(hooks) if name.startswith("pytest_")
               and callable(getattr(hooks, name)) and getattr(hooks, name).__module__ ==
               hooks.__name__}
    assert defined - set(vars(plugin)) == set()
