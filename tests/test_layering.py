"""The house's layers, read from the source: imports point one way and never run in a circle.

`index/` imports nothing of ours; `rag/` imports `index/` and never `ui/` or `eval/` (they add
their CLI verbs through the `rag.commands` entry-point group); `ui/` and `eval/` sit on top. A
circle among our modules makes import order matter and hides which module a concept belongs to.
The engine declares what a backend can do on the backend class, so it never probes one with
`getattr`. Word lists are written once, in the language layer (`index/language/words.py`); there
is one spaCy loader; and no module passes on names it imports (a re-export shim), except the
public API `rag/__init__.py`.

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


MODULES = {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


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
            checked |= set(
                re.findall(r'"([a-z_]+)" (?:not )?in (?:self\.)?(?:disabled|off)\b', path.read_text(encoding="utf-8"))
            )
    assert checked and checked <= set(FORMS), checked - set(FORMS)
    assert set(FORMS) == checked, set(FORMS) - checked


# The engine only wires the stages of the answer path (`rag.stages`): at run time it imports them,
# `rag.opening` (opening the index they read), the settings, the core types, and `rag.tuning`,
# because the engine is where a `Tuning` enters (`Engine(tuning=...)`) and is handed to the stages.
# Names used only in its signatures (under TYPE_CHECKING) may also come from the modules that
# define those types: the index's corpus, store, embedder and build report, the backend
# interface, and the question's `Ask`.
ENGINE_RUNS = {"rag.opening", "rag.settings", "rag.types", "rag.tuning"}
ENGINE_NAMES = {
    "index.build",
    "index.documents",
    "index.embedding",
    "index.milvus_store",
    "index.store",
    "rag.backends.base",
    "rag.question",
}


def test_the_engine_imports_only_its_stages_settings_and_types():
    run = _imports("rag.engine", top_level_only=True)
    named = _imports("rag.engine", top_level_only=False) - run
    assert {m for m in run if not m.startswith("rag.stages")} <= ENGINE_RUNS, run
    assert {m for m in run if m.startswith("rag.stages.")} >= {
        f"rag.stages.{stage}" for stage in ("read", "retrieve", "select", "decide", "draft", "check", "publish")
    }
    assert named <= ENGINE_NAMES, named - ENGINE_NAMES


def test_only_the_decide_stage_refuses():
    # A refusal is a `Refusal` reason set on a `Decision`: no other stage module names one.
    naming = [p for p in _calls(r"\bRefusal\.") if p.startswith("rag/")]
    assert {p.split(":")[0] for p in naming} == {"rag/stages/decide.py"}, naming




# -- word lists live once, in the language layer -----------------------------------------------------

LANGUAGE_LAYER = "index/language/words.py"
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


def word_lists(source: str) -> list[tuple[int, frozenset[str]]]:
    """(line, words) of every literal list of >= 3 lower-case words in `source`: a set, tuple or list
    of strings, or a `"... ...".split()`, the way this house writes its word lists."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
            if not node.elts or not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                continue
            strings = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "split"
            and not node.args
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
        ):
            strings = node.func.value.value.split()
        else:
            continue
        # Words, perhaps with symbols ("%", "$"); a name such as "doc_id" or "GPE" makes it no word list.
        if any(not _WORD.fullmatch(s) and re.search(r"\w", s) for s in strings):
            continue
        words = frozenset(s for s in strings if _WORD.fullmatch(s))
        if len(words) >= 3:
            found.append((node.lineno, words))
    return found


def _labels() -> frozenset[str]:
    """Lower-case strings that are labels, not English: spaCy's dependency labels and our own kinds."""
    from spacy.glossary import GLOSSARY

    from index.analysis import FIGURE_KINDS
    from rag.question import RELATIONS
    from rag.verify import FAILED, FALLBACK, REPAIRED, VERIFIED

    return frozenset(k for k in GLOSSARY if k.islower()) | {
        *FIGURE_KINDS,
        *RELATIONS,
        VERIFIED,
        REPAIRED,
        FALLBACK,
        FAILED,
    }


def duplicated_word_lists(lists: dict[str, frozenset[str]], labels: frozenset[str] = frozenset()) -> list[str]:
    """Pairs of word lists (named `path:line`) that are the same words, or share at least half the
    smaller one's words (and at least 3). Lists side by side in the language layer may overlap (a
    base list and its named extension); nowhere may the same list be written twice."""
    words = {place: ws for place, ws in lists.items() if not ws <= labels}
    places = sorted(words)
    found = []
    for i, a in enumerate(places):
        for b in places[i + 1 :]:
            shared = words[a] & words[b]
            both_home = a.startswith(LANGUAGE_LAYER + ":") and b.startswith(LANGUAGE_LAYER + ":")
            same = words[a] == words[b]
            overlapping = len(shared) >= 3 and 2 * len(shared) >= min(len(words[a]), len(words[b]))
            if same or (overlapping and not both_home):
                found.append(f"{a} ~ {b}: {', '.join(sorted(shared)[:6])}")
    return found


def test_the_word_list_finder_finds_a_planted_duplicate():
    """The check below could fail: a copy of a list, written either way, and a near copy are found."""
    home = word_lists('SPEECH = frozenset("say tell state declare".split())\nBASE = frozenset({"a", "b"})\n')
    copy = word_lists('def f(v):\n    return v in ("say", "tell", "state", "declare")\n')
    near = word_lists('WORDS = {"say", "tell", "state", "warn", "urge", "ask"}\n')
    unrelated = word_lists('KINDS = ("apple", "pear", "plum")\n')
    assert word_lists('FIELDS = ("doc_id", "start", "end", "text")\n') == []  # names, not words
    assert word_lists('SCALE = frozenset("level total sum % $".split())\n')[0][1] == {"level", "total", "sum"}
    assert home == [(1, frozenset({"say", "tell", "state", "declare"}))]  # two words are not a list
    lists = {
        f"{LANGUAGE_LAYER}:1": home[0][1],
        "rag/x.py:2": copy[0][1],
        "rag/y.py:1": near[0][1],
        "rag/z.py:1": unrelated[0][1],
    }
    found = duplicated_word_lists(lists)
    assert len(found) == 3 and not any("rag/z.py" in pair for pair in found), found
    # Labels are not words: a tuple of spaCy dependency labels may appear anywhere.
    assert (
        duplicated_word_lists(
            {"a.py:1": frozenset({"amod", "nmod", "poss"}), "b.py:1": frozenset({"amod", "nmod", "poss"})},
            frozenset({"amod", "nmod", "poss"}),
        )
        == []
    )


def test_every_word_list_is_written_once():
    lists = {
        f"{path.relative_to(ROOT)}:{line}": words
        for package in ("rag", "index", "eval", "ui")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, words in word_lists(path.read_text(encoding="utf-8"))
    }
    assert any(place.startswith(LANGUAGE_LAYER) for place in lists)
    assert duplicated_word_lists(lists, _labels()) == []


# -- no re-export shims -----------------------------------------------------------------------------

# A package whose `__init__` is the public API names what it gathers from its modules: `rag`
# (`from rag import Engine, Settings`). Every other module exports only what it defines.
PUBLIC_APIS = ("rag/__init__.py",)


def re_exports(source: str) -> list[str]:
    """Names a module passes on without defining them: imported names listed in `__all__`, and
    module-level `from x import y  # noqa: F401` (an import kept only for others to import)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    imported: set[str] = set()
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names = [alias.asname or alias.name for alias in node.names]
            imported.update(names)
            if "noqa: F401" in lines[node.lineno - 1]:
                # `from ui import privacy` imports a module for its side effects: no re-export.
                found += [n for n in names if f"{node.module}.{n}" not in MODULES]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            if isinstance(node.value, (ast.List, ast.Tuple)):
                found += [e.value for e in node.value.elts if isinstance(e, ast.Constant) and e.value in imported]
    return found


def test_the_re_export_finder_finds_both_kinds():
    assert re_exports("from a import b, c\n__all__ = ['b', 'd']\ndef d(): pass\n") == ["b"]
    assert re_exports("from a import fold  # noqa: F401  (re-exported)\n") == ["fold"]
    assert re_exports("import index.offline  # noqa: F401  (side effect)\n") == []
    assert re_exports("from ui import privacy  # noqa: F401  (side effect)\n") == []


def test_no_module_re_exports_another_modules_names():
    shims = {
        str(path.relative_to(ROOT)): names
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in PUBLIC_APIS and (names := re_exports(path.read_text(encoding="utf-8")))
    }
    assert shims == {}
