"""The pure core: numbers, markets, commands and events, the book, the ledger, the engine.

No I/O, no clock, no randomness, and no imports from the rest of the package.
"""
