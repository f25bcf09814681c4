"""The layers of docs/ARCHITECTURE.md hold: cli > app > views > live > data, with no import circle."""

import ast
import shutil
import subprocess

import pytest
from conftest import ROOT

# what each top-level module may import of ours (import-linter analyses only packages)
MAY_IMPORT = {
    "cli": {"app", "server", "settings", "data", "views", "live"},
    "app": {"settings", "data", "views", "live"},
    "server": {"app", "live"},  # on PostgreSQL the worker of a fresh `python -m server` builds the app
    "settings": {"data"},
}
OURS = {"cli", "app", "server", "settings", "data", "views", "live"}


def imported(module):
    """The top-level names of ours that `module`.py imports, anywhere in it."""
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


def test_the_packages_keep_their_layers():
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is missing: bash tests/run installs it"
    result = subprocess.run([lint, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", sorted(MAY_IMPORT))
def test_a_top_level_module_imports_only_what_is_below_it(module):
    assert imported(module) - {module} <= MAY_IMPORT[module]
