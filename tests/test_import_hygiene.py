"""Import hygiene: no import cycles between robustkit's modules, and configs that load without TensorFlow.

The cycle check reads the source with `ast`, so it counts every import,
including those inside functions: a lazy import that closes a loop is still a
loop. The TensorFlow checks import each module in a fresh interpreter.
"""

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "robustkit"
HEAVY = ("tensorflow", "tf_keras")
CONFIG_PATTERNS = ("config.py", "options.py", "*_config.py", "*_options.py")


def module_files(package: Path) -> Dict[str, Path]:
    """Dotted module name -> file, for every module of the package in directory ``package``."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _ancestors(name: str) -> List[str]:
    """``a.b.c`` -> ``[a, a.b]``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _runs(name: str, own: Set[str], modules: Dict[str, Path]) -> Iterator[str]:
    """What importing ``name`` runs: its packages and itself, less the packages being imported already."""
    for part in _ancestors(name) + [name]:
        if part in modules and part not in own:
            yield part


def _imported(node: ast.AST, module: str, is_package: bool, modules: Dict[str, Path]) -> Iterator[str]:
    """The package's modules one import statement makes ``module`` depend on.

    ``import a.b`` and ``from a.b import x`` run ``a`` and ``a.b``; ``from a
    import b`` also runs the submodule ``a.b`` when there is one, and otherwise
    reads the name ``b`` from package ``a``. The packages that contain
    ``module`` are being imported already, so running them adds no edge, but
    reading a name from one does: a package whose ``__init__`` imports a module
    that imports the package back is a cycle.
    """
    own = set(_ancestors(module))
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _runs(alias.name, own, modules)
            if alias.name in own:
                yield alias.name
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[:len(parts) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        yield from _runs(base, own, modules)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in modules:
                yield submodule
            elif base in own:
                yield base


def import_graph(package: Path) -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports, anywhere in its source (functions included)."""
    modules = module_files(package)
    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            graph[name].update(t for t in _imported(node, name, is_package, modules) if t != name)
    return graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle, as a path ``[a, b, ..., a]``, per strongly connected group of modules (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_within(graph, group) for group in groups]


def _path_within(graph: Dict[str, Set[str]], group: List[str]) -> List[str]:
    """A shortest cycle through ``group[0]`` inside the group, as ``[start, ..., start]`` (breadth-first)."""
    start, members = group[0], set(group)
    parent: Dict[str, str] = {}
    queue = [start]
    for v in queue:  # The queue grows while it is read.
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start} in {group}")


def test_no_import_cycles():
    cycles = find_cycles(import_graph(PACKAGE))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _write(root: Path, files: Dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_cycle_check_finds_a_cycle_through_an_import_inside_a_function(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": """
            def late():
                from .. import a
                return a
            """,
    })
    assert find_cycles(import_graph(tmp_path / "pkg")) == [["pkg.a", "pkg.sub.b", "pkg.a"]]


def test_cycle_check_finds_a_package_importing_a_module_that_imports_it_back(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.loader import load\nNAMES = ['x']\n",
        "pkg/loader.py": "from pkg import NAMES\n\ndef load():\n    return NAMES\n",
    })
    assert find_cycles(import_graph(tmp_path / "pkg")) == [["pkg", "pkg.loader", "pkg"]]


def test_cycle_check_accepts_a_package_that_imports_its_modules(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg import a\nfrom .b import B\nimport pkg.c\n",
        "pkg/a.py": "from pkg import b, c\n",
        "pkg/b.py": "import pkg.c\nB = 1\n",
        "pkg/c.py": "import os\n",
    })
    graph = import_graph(tmp_path / "pkg")
    assert graph == {"pkg": {"pkg.a", "pkg.b", "pkg.c"}, "pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": {"pkg.c"},
                     "pkg.c": set()}
    assert find_cycles(graph) == []


def config_modules(package: Path = PACKAGE) -> List[str]:
    """Every config or options module of the package: config.py, options.py, *_config.py, *_options.py."""
    files = {path for pattern in CONFIG_PATTERNS for path in package.rglob(pattern)}
    return sorted(name for name, path in module_files(package).items() if path in files)


# Run as ``python -c _PROBE MODULE [CODE]``: imports MODULE, runs CODE, prints {heavy package: importing frames}.
_PROBE = """
import importlib, json, sys, traceback

HEAVY = %r


class Tripwire:
    # Records where each heavy package is first imported from, and lets the import go on.
    def __init__(self):
        self.where = {}

    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in self.where:
            self.where[name] = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()
                                if "robustkit" in f.filename]
        return None


tripwire = Tripwire()
sys.meta_path.insert(0, tripwire)
importlib.import_module(sys.argv[1])
exec(sys.argv[2] if len(sys.argv) > 2 else "")
print(json.dumps({name: tripwire.where.get(name) for name in HEAVY if name in sys.modules}))
""" % (HEAVY,)


def _heavy_imports(module: str, code: str = "") -> str:
    """What importing ``module`` (then running ``code``) in a fresh interpreter loads of `HEAVY`, and from where."""
    done = subprocess.run([sys.executable, "-c", _PROBE, module, code], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    heavy = json.loads(done.stdout.strip().splitlines()[-1])
    return "; ".join(f"{name}, from:\n  " + "\n  ".join(where or ["?"]) for name, where in heavy.items())


def test_config_modules_are_found():
    assert {"robustkit.config", "robustkit.data.options", "robustkit.evaluation.config", "robustkit.explain.config",
            "robustkit.explain.options", "robustkit.generative.config", "robustkit.models.options",
            "robustkit.separation.config", "robustkit.testgen.config", "robustkit.training.config",
            "robustkit.training.adversarial_config"} <= set(config_modules())


@pytest.mark.parametrize("module", ["robustkit"] + config_modules())
def test_importing_starts_no_tensorflow(module):
    heavy = _heavy_imports(module)
    assert not heavy, f"importing {module} imports {heavy}"


def _job_classes() -> List[str]:
    """``module:Class`` for every top-level ``*Job`` class of the config modules."""
    jobs = []
    for module in config_modules():
        tree = ast.parse(module_files(PACKAGE)[module].read_text(encoding="utf-8"))
        jobs += [f"{module}:{node.name}" for node in tree.body
                 if isinstance(node, ast.ClassDef) and node.name.endswith("Job")]
    return jobs


_PARSE = """
from robustkit import config
try:
    config.parse(getattr(sys.modules[{module!r}], {name!r}), {{}})
except config.ConfigError:
    pass  # A default that needs a value from the user (a model path); every section was parsed before.
"""


def test_job_classes_are_found():
    assert "robustkit.training.config:TrainJob" in _job_classes()


@pytest.mark.parametrize("job", _job_classes())
def test_parsing_a_default_config_starts_no_tensorflow(job):
    module, name = job.split(":")
    heavy = _heavy_imports(module, _PARSE.format(module=module, name=name))
    assert not heavy, f"parsing a default {name} imports {heavy}"
