"""The house rules on the shape of the code, read from the source with ``ast``: no module
over 400 lines, no function over 60 (from its ``def`` line, decorators excluded, to its last
line; the migrations under store/migrations/versions aside), and no import cycle among
papertide's modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The checkout this file is in (found from any depth under tests/).
SRC = next(p / "src" for p in Path(__file__).resolve().parents if (p / "src/papertide").is_dir())
PACKAGE = SRC / "papertide"
MIGRATIONS = PACKAGE / "store" / "migrations" / "versions"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Import:
    """One ``import papertide...`` or ``from papertide... import`` statement's target."""

    module: str  # the importing module
    target: str  # the papertide module it loads
    line: int
    deferred: bool  # inside a function (or under TYPE_CHECKING): not run on import


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(SRC.parent).as_posix()


def _name_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exempt(path: Path) -> bool:
    return path.is_relative_to(MIGRATIONS)


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method under ``node``, nested ones too, by qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def _length(function: Function) -> int:
    """Lines from the ``def`` line (decorators excluded) to the last line of the body."""
    assert function.end_lineno is not None
    return function.end_lineno - function.lineno + 1


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, known: set[str]) -> Iterator[Import]:
    """The papertide modules ``path`` imports, each marked deferred when the statement is
    inside a function or an ``if TYPE_CHECKING:`` block. ``from package import name``
    counts as an import of package.name when that is a module, else of the package."""
    module = _name_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST, deferred: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == "papertide" or alias.name.startswith("papertide."):
                        yield Import(module, alias.name, child.lineno, deferred)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the package, up level - 1
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base != "papertide" and not base.startswith("papertide."):
                    continue
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    yield Import(module, full if full in known else base, child.lineno, deferred)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, True)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from walk(ast.Module(body=child.body, type_ignores=[]), True)
                yield from walk(ast.Module(body=child.orelse, type_ignores=[]), deferred)
            else:
                yield from walk(child, deferred)

    yield from walk(ast.parse(path.read_text(), str(path)), False)


def _import_graph() -> dict[str, list[Import]]:
    """Every papertide module's imports of papertide modules, run on import or deferred."""
    paths = _modules()
    known = {_name_of(p) for p in paths}
    return {_name_of(p): list(_imports(p, known)) for p in paths}


def _cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` (its modules, the first repeated last), or
    None when it has none."""
    done: set[str] = set()
    path: list[str] = []
    on_path: dict[str, int] = {}

    def visit(node: str) -> list[str] | None:
        on_path[node] = len(path)
        path.append(node)
        for after in edges.get(node, []):
            if after in on_path:
                return [*path[on_path[after] :], after]
            if after not in done and (found := visit(after)):
                return found
        path.pop()
        del on_path[node]
        done.add(node)
        return None

    for start in sorted(edges):
        if start not in done and (found := visit(start)):
            return found
    return None


def test_no_module_is_over_400_lines() -> None:
    long = [
        f"{_relative(path)}: {lines} lines"
        for path in _modules()
        if not _exempt(path) and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_is_over_60_lines() -> None:
    long = []
    for path in _modules():
        if _exempt(path):
            continue
        for name, function in _functions(ast.parse(path.read_text(), str(path))):
            if (lines := _length(function)) > MAX_FUNCTION_LINES:
                long.append(f"{_relative(path)}:{function.lineno} {name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_no_import_cycle_among_modules() -> None:
    """Imports run on import form no cycle; imports inside functions (and type-only ones)
    are the way to break one, and are left out."""
    graph = _import_graph()
    edges = {
        module: sorted({i.target for i in imports if not i.deferred and i.target != module})
        for module, imports in graph.items()
    }
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("module", "target", "deferred"),
    [
        ("papertide.search.service", "papertide.search.generation", False),
        ("papertide.search", "papertide.search.service", True),  # imported in a function
        ("papertide.cli.ingest_cmd", "papertide.models", True),  # under TYPE_CHECKING
    ],
)
def test_the_import_graph_sees_each_kind_of_import(
    module: str, target: str, deferred: bool
) -> None:
    """The checks above look at something: imports of each kind are found."""
    found = {(i.target, i.deferred) for i in _import_graph()[module]}
    assert (target, deferred) in found, sorted(found)


def test_the_cycle_check_finds_a_cycle() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert _cycle(edges) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None
