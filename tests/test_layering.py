"""The house's layers, read from the source: imports point one way and never run in a circle.

`index/` imports nothing of ours; `rag/` imports `index/` and never `ui/` or `eval/` (they add
their CLI verbs through the `rag.commands` entry-point group); `ui/` and `eval/` sit on top. A
circle among our modules makes import order matter and hides which module a concept belongs to.
The engine declares what a backend can do on the backend class, so it never probes one with
`getattr`.

Imports are read with `ast`, so a lazy import inside a function counts for the layers as much as
one at the top of a file. Circles are looked for among module-level imports only (not those
under `if TYPE_CHECKING:` or inside functions), which are the ones that run at import time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "index", "ui", "eval")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    _module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _ours(name: str) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, top_level_only: bool) -> set[str]:
    """Our modules that `module` imports (all imports, or only those run at import time)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(m for alias in node.names if (m := _ours(alias.name)))
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                target = _ours(f"{source}.{alias.name}") or _ours(source)
                if target:
                    found.add(target)
        if top_level_only and (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            or (isinstance(node, ast.If) and _is_type_checking(node))
        ):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _package(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_read():
    assert {_package(m) for m in MODULES} == set(PACKAGES)
    assert "rag.engine" in MODULES and "index.store" in MODULES


def test_the_reader_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """The checks below could fail: an import inside a function is found, a relative one resolved."""
    fake = tmp_path / "rag" / "backends" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from . import base\n\ndef f():\n    import ui.app\n    from ..engine import Engine\n")
    monkeypatch.setitem(MODULES, "rag.backends.fake", fake)
    assert _imports("rag.backends.fake", top_level_only=False) == {"rag.backends.base", "ui.app", "rag.engine"}
    assert _imports("rag.backends.fake", top_level_only=True) == {"rag.backends.base"}


@pytest.mark.parametrize(
    "layer, forbidden",
    [("index", {"rag", "ui", "eval"}), ("rag", {"ui", "eval"})],
)
def test_lower_layers_never_import_upper_ones(layer, forbidden):
    wrong = sorted(
        f"{module} imports {target}"
        for module in MODULES
        if _package(module) == layer
        for target in _imports(module, top_level_only=False)
        if _package(target) in forbidden
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_our_modules():
    graph = {module: _imports(module, top_level_only=True) for module in MODULES}
    assert _cycles(graph) == []


def test_engine_and_backends_never_probe_a_backend_with_getattr():
    files = [ROOT / "rag" / "engine.py", *sorted((ROOT / "rag" / "backends").rglob("*.py"))]
    probing = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "getattr(" in line or "hasattr(" in line
    ]
    assert probing == []


def _calls(pattern: str) -> list[str]:
    """`path:line` of every line in our packages (not comments) that matches `pattern`."""
    found = []
    for package in ("rag", "index", "eval", "ui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(pattern, line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(ROOT)}:{n}")
    return found


def test_there_is_one_spacy_loader():
    # The question parser and the index's sentence analysis share index.language.pipeline.pipeline.
    loaders = _calls(r"\bspacy\.(load|blank)\(")
    assert [place.split(":")[0] for place in loaders] == ["index/language/pipeline.py"], loaders


def test_the_question_forms_are_registered_where_they_are_switched():
    # Every name a rule checks in `disabled` is a registered form: a misspelt switch would never switch.
    from rag.forms import FORMS

    checked = set()
    for package in ("rag",):
        for path in sorted((ROOT / package).rglob("*.py")):
            checked |= set(re.findall(r'"([a-z_]+)" (?:not )?in (?:self\.)?(?:disabled|off)\b', path.read_text(encoding="utf-8")))
    assert checked and checked <= set(FORMS), checked - set(FORMS)
    assert set(FORMS) - checked <= {"clause_cut"}, set(FORMS) - checked  # the cut is switched where the backend is built
