"""Which core runs: compiled by mypyc once installed, interpreted from the sources.

`scripts/test` runs the whole suite against the installed package, whose core must be
the compiled one, then the core's tests again from the sources (`PYTHONPATH=src`), where
it must be the interpreted one: so neither build can rot unnoticed. Building without a
C compiler must still give a working, interpreted package.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import exchange
from exchange.core import COMPILED, INTERPRETED, build

ROOT = Path(__file__).resolve().parents[2]
FROM_SOURCES = Path(exchange.__file__).resolve().is_relative_to(ROOT / "src")


@pytest.mark.skipif(FROM_SOURCES, reason="run against the sources: their core is interpreted")
def test_the_installed_core_is_compiled() -> None:
    assert build() == COMPILED


@pytest.mark.skipif(not FROM_SOURCES, reason="run against the installed package")
def test_the_core_from_the_sources_is_interpreted() -> None:
    assert build() == INTERPRETED


def test_the_version_says_which_core_runs() -> None:
    shown = subprocess.run([sys.executable, "-m", "exchange.cli", "--version"], check=True,
                           capture_output=True, text=True).stdout
    assert shown.startswith("exchange ") and shown.strip().endswith(f"core {build()}")


def test_without_a_c_compiler_the_package_installs_its_interpreted_core(
        tmp_path: Path) -> None:
    # setuptools compiles with $CC: one that always fails stands for a machine without.
    # The wheel is built from the sdist (as pip installs one), away from any build files
    # left in the working tree.
    env = {**os.environ, "CC": "false", "UV_NO_CACHE": "1"}
    built = subprocess.run(["uv", "build", "--out-dir", str(tmp_path), str(ROOT)],
                           check=False, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "installing the interpreted core" in built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "exchange/core/engine.py" in names and "exchange/web/static/index.html" in names
    assert not [name for name in names if name.endswith(".so")]


_DUMP = """
import sys
from exchange.bench.engine import bench_config, workload
from exchange.core import build
from exchange.core.engine import Exchange
exchange = Exchange(bench_config())
for cmd in workload(3000, 7):
    exchange.execute(cmd)
open(sys.argv[1], "wb").write(exchange.dump())
print(build(), exchange.state_hash())
"""
_LOAD = """
import sys
from exchange.bench.engine import bench_config
from exchange.core import build
from exchange.core.engine import Exchange
exchange = Exchange.load(bench_config(), open(sys.argv[1], "rb").read())
print(build(), exchange.state_hash())
"""


def _run(script: str, path: Path, *, sources: bool) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if sources:
        env["PYTHONPATH"] = str(ROOT / "src")
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.split()


@pytest.mark.skipif(FROM_SOURCES, reason="needs the installed, compiled core beside the sources")
def test_a_snapshot_of_either_build_loads_in_the_other(tmp_path: Path) -> None:
    by_compiled, by_interpreted = tmp_path / "compiled.json", tmp_path / "interpreted.json"
    assert _run(_DUMP, by_compiled, sources=False)[0] == COMPILED
    assert _run(_DUMP, by_interpreted, sources=True)[0] == INTERPRETED
    assert by_compiled.read_bytes() == by_interpreted.read_bytes()
    made = _run(_DUMP, by_compiled, sources=False)[1]
    assert _run(_LOAD, by_compiled, sources=True) == [INTERPRETED, made]
    assert _run(_LOAD, by_interpreted, sources=False) == [COMPILED, made]
