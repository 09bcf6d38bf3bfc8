"""Build the package, with the core (`src/exchange/core`) compiled to C by mypyc.

The core is plain typed Python; compiled, the same source runs several times faster.
Where it cannot be compiled (no C compiler or no Python headers, or mypyc missing) the
build goes on without it and says so: the wheel carries the core's sources either way,
so the package then runs the interpreted core. `EXCHANGE_PURE=1` builds that way on
purpose. `exchange --version` and `GET /api/v1/status` say which core runs.

Everything else (name, dependencies, package data) is in pyproject.toml.
"""

import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

CORE = sorted(str(path) for path in Path("src/exchange/core").glob("*.py")
              if path.name != "__init__.py")


def warn(message: str) -> None:
    print(f"exchange build: WARNING: {message}", file=sys.stderr, flush=True)


class OptionalBuildExt(build_ext):
    """Compile the core if the machine can; otherwise leave the pure-Python core."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # a compiler fails in many ways: each means "no core"
            for path in self.get_outputs():  # none of a half-built core
                Path(path).unlink(missing_ok=True)
            warn(f"could not compile the core ({error}); installing the interpreted core, "
                 "which is correct but several times slower")


def core_extensions() -> list[Any]:
    if os.environ.get("EXCHANGE_PURE") == "1":
        warn("EXCHANGE_PURE=1: installing the interpreted core")
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 - only when compiling
    except ImportError as error:
        warn(f"mypyc is not available ({error}); installing the interpreted core")
        return []
    try:
        return mypycify(CORE, opt_level="3", debug_level="1")
    except (Exception, SystemExit) as error:  # mypyc reports a type error by exiting
        warn(f"mypyc could not translate the core ({error}); installing the interpreted core")
        return []


setup(ext_modules=core_extensions(), cmdclass={"build_ext": OptionalBuildExt})
