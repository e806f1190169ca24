"""pyproject.toml declares what the code imports, writes the version once; the pins follow it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pterodisbot
from tests.processes import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOCK_FILES = ("requirements.txt", "requirements-dev.txt")


def _name(requirement: str) -> str:
    """Return the normalised distribution name of a PEP 508 requirement."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _product_files() -> list[Path]:
    """Return every module of the packages the wheel installs."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    roots = {p.split("*")[0].rstrip(".") for p in patterns}
    return sorted(f for root in roots for f in (REPO / root).rglob("*.py"))


def _third_party_imports(files: list[Path]) -> dict[str, Path]:
    """Return each top-level module imported outside the standard library, with one importer."""
    found: dict[str, Path] = {}
    local = {p.stem if p.is_file() else p.name for p in REPO.iterdir()}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                    found.setdefault(top, path)
    return found


def test_every_package_the_code_imports_is_a_declared_dependency() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    imports = _third_party_imports(_product_files())
    assert {"discord", "aiohttp", "numpy", "PIL", "yarl", "multidict"} <= imports.keys()
    for module, importer in sorted(imports.items()):
        owners = {_name(d) for d in distributions.get(module, [])}
        assert owners & declared, (
            f"{importer.relative_to(REPO)} imports {module!r} (from {sorted(owners) or '?'}), "
            "which pyproject.toml's dependencies do not declare"
        )


def test_the_version_is_written_once_in_the_package() -> None:
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert importlib.metadata.version("pterodisbot") == pterodisbot.__version__
    written = [
        path.relative_to(REPO)
        for path in [REPO / "pyproject.toml", *_product_files()]
        if re.search(r"""^\s*(__version__|version)\s*=\s*["']\d""", path.read_text(), re.M)
    ]
    assert written == [Path("pterodisbot/__init__.py")]


def test_the_runtime_pins_are_the_dev_pins() -> None:
    """The image (requirements.txt) runs on exactly the versions the tests ran on."""

    def pins(name: str) -> dict[str, str]:
        lines = (REPO / name).read_text(encoding="utf-8").splitlines()
        return {
            _name(line): line.split(";")[0].split("==")[1].strip()
            for line in lines
            if line and not line.lstrip().startswith("#")
        }

    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {_name(r) for r in PYPROJECT["project"]["dependencies"]} <= runtime.keys()
    assert {name: dev.get(name) for name in runtime} == runtime


@pytest.fixture
def lock_copy(tmp_path: Path) -> Path:
    """Return a copy of what `scripts/lock.sh` reads, to change without touching the tree."""
    uv = REPO / ".venv" / "bin" / "uv"
    if not uv.exists():
        pytest.fail(f"{uv} is missing: `make .venv/.installed` installs it (requirements-dev.txt)")
    for name in ("pyproject.toml", "README.md", *LOCK_FILES, "scripts/lock.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "pterodisbot").mkdir()
    shutil.copy(REPO / "pterodisbot" / "__init__.py", tmp_path / "pterodisbot" / "__init__.py")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "uv").symlink_to(uv)
    return tmp_path


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/lock.sh", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lock_check_passes_on_the_committed_pins(lock_copy: Path) -> None:
    result = _check(lock_copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lock_check_fails_when_a_dependency_is_added_without_make_lock(lock_copy: Path) -> None:
    pyproject = lock_copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('"python-dotenv>=1.0,<2",', '"python-dotenv>=1.0,<2",\n    "six",'),
        encoding="utf-8",
    )
    result = _check(lock_copy)
    assert result.returncode == 1
    assert "+six==" in result.stdout
    assert "requirements.txt is out of sync with pyproject.toml: run 'make lock'" in result.stderr


def test_lock_check_fails_when_a_pin_is_removed_by_hand(lock_copy: Path) -> None:
    dev = lock_copy / "requirements-dev.txt"
    dev.write_text(
        "".join(line for line in dev.read_text().splitlines(True) if "pytest-timeout" not in line)
    )
    result = _check(lock_copy)
    assert result.returncode == 1
    assert "+pytest-timeout==" in result.stdout
    assert "requirements-dev.txt is out of sync" in result.stderr
