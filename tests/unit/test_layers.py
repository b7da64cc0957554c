"""The layering contracts of ``make lint`` (import-linter) hold, and they do catch a
planted cross-import: a component importing another, or a model module importing a
network client."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.conftest import ROOT

PACKAGES = ("testfleet", "api", "cli", "workers", "grid", "gateway", "demosite")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts on the packages copied under ``tree``
    (first on the path, so the copy is analysed rather than the installed project)."""
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_as_it_is_keeps_every_contract(tree: Path) -> None:
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        ("workers/tasks.py", "import gateway.hub", "components do not import each other"),
        ("gateway/sse.py", "from api import listing", "components do not import each other"),
        ("api/app.py", "import cli.runner", "cli/ over the components"),
        ("testfleet/suites/loader.py", "import workers.app", "cli/ over the components"),
        ("testfleet/settings.py", "import testfleet.targets.policy", "vocabulary modules import"),
        ("testfleet/suites/loader.py", "import testfleet.store", "each floor importing only"),
        ("testfleet/fleet/broker.py", "import testfleet.suites.loader", "each floor importing"),
        ("testfleet/results.py", "import redis", "import no network client"),
        ("testfleet/suites/model.py", "from testfleet.store import RunStore", "no network client"),
    ],
)
def test_a_planted_import_breaks_its_contract(
    tree: Path, module: str, planted: str, broken: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    done = lint_imports(tree)
    assert done.returncode != 0, done.stdout
    broken_lines = [line for line in done.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(broken in line for line in broken_lines), done.stdout
    assert module.removesuffix(".py").replace("/", ".") in done.stdout, "names the importer"


def test_no_code_outside_the_run_store_touches_the_run_record() -> None:
    """The run hash, its state and cases hashes, and the case specs are read and written
    by ``testfleet/store/`` only; everything else goes through its models."""
    record_keys = re.compile(r"keys\.(run|run_state|run_cases|run_specs)\(|:state\b")
    offenders = []
    for package in ("testfleet", "api", "cli", "workers", "grid", "gateway", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.is_relative_to(ROOT / "testfleet" / "store") or path.name == "keys.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if record_keys.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_no_code_outside_the_run_store_reads_the_run_indexes() -> None:
    """The run indexes (every run's, each project's) are read and swept through the run
    store's queries (``testfleet.store.indexes``, ``RunStore``) only."""
    index_keys = re.compile(r"keys\.(RUNS_INDEX|PROJECT_RUNS_PATTERN|project_runs\()")
    offenders = []
    for package in ("testfleet", "api", "cli", "workers", "grid", "gateway"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.is_relative_to(ROOT / "testfleet" / "store") or path.name == "keys.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if index_keys.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize(
    ("below", "above"),
    [
        ("testfleet.suites.steps", "testfleet.suites.model"),
        ("testfleet.store.listing", "testfleet.store.reads"),
        ("testfleet.store.query", "testfleet.store.listing"),
    ],
)
def test_former_circles_import_one_way(below: str, above: str) -> None:
    """``Step`` lives with the step registry, which never imports the suite model; the run
    listing is a plan of queries that the readers run, not a user of the readers."""
    graph = grimp.build_graph("testfleet")
    assert graph.find_shortest_chains(importer=below, imported=above, as_packages=True) == set()
    assert graph.find_shortest_chains(importer=above, imported=below, as_packages=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module in ``graph`` (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    """No import circle between the product's modules when it runs (imports for type
    checking only are left out: they never execute)."""
    packages = ("testfleet", "api", "cli", "workers", "grid", "gateway", "demosite")
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_planted_circle(tmp_path: Path) -> None:
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle import b\n")
    (package / "b.py").write_text("from circle import a\n")
    (package / "c.py").write_text("from circle import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert _cycles(grimp.build_graph("circle", cache_dir=None)) == [["circle.a", "circle.b"]]
    finally:
        sys.path.remove(str(tmp_path))
