"""The pure core: numbers, markets, commands and events, the book, the ledger, the engine.

No I/O, no clock, no randomness, and no imports from the rest of the package. Installed,
its modules are compiled to C by mypyc (setup.py); from the sources, or where no C
compiler was at hand, the same modules run interpreted. `build()` says which.
"""

COMPILED, INTERPRETED = "compiled", "interpreted"


def build() -> str:
    """Return which build of the core runs in this process: `COMPILED` or `INTERPRETED`."""
    from exchange.core import engine  # noqa: PLC0415 - this module is not compiled itself

    return INTERPRETED if engine.__file__.endswith(".py") else COMPILED
