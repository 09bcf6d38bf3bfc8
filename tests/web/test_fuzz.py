"""Fuzz the REST API from its own OpenAPI spec with schemathesis: no request gets a 5xx.

Schemathesis (its CLI, in a subprocess: every phase, examples, coverage, fuzzing and
stateful, with one readable report) sends valid and invalid requests to every operation
of a running `exchange run`, as Alice through her API key, so changes need no CSRF
header. Bob keeps a ladder of orders in the book for her orders to trade with.

The spec is fuzzed as served, plus what a client learns from docs/api.md rather than
from the schema: the one market's symbol, the shape of decimal strings, which fields a
limit and a market order need, and that ids are small numbers. Without that nearly every
generated order is refused at the door and every order id is unknown; with it many
orders reach the book and trade, and are read, reduced and cancelled by id. Invalid
requests are still generated from the same spec.

Afterwards the exchange must still work, and the risk ledger, read from the data
directory after a clean stop, must hold exactly the starting grant of every account
(fees are zero), however many users the fuzzer signed up.

FUZZ_EXAMPLES and FUZZ_SEED (environment) make a longer or a different run; FUZZ_EXTRA
adds schemathesis options (say `--report ndjson` to see every request).
"""

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from exchange.core.ledger import FEE_ACCOUNT, Ledger
from exchange.core.markets import default_config
from exchange.pipeline.audit import fresh_replay
from exchange.pipeline.journal import Journal
from exchange.pipeline.snapshots import Snapshots
from tests.web.client import MARKET, User
from tests.web.server import Server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))  # per operation and phase
SEED = int(os.environ.get("FUZZ_SEED", "1"))
GRANT = {"USD": Decimal(1000), "COIN": Decimal(100)}
# What docs/api.md says decimal strings look like, kept small enough to be affordable.
DECIMALS = {"price": r"^[1-9][0-9]?(\.[0-9]{1,2})?$", "quantity": r"^[0-9](\.[0-9]{1,4})?$",
            "reduce_by": r"^[0-9](\.[0-9]{1,4})?$",
            "quote_quantity": r"^[0-9]{1,2}(\.[0-9]{1,6})?$"}


def strings(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The string schemas in a schema, or in its `anyOf` (FastAPI's `str | None`)."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            yield option


def narrow(name: str, schema: dict[str, Any]) -> None:
    """Say what valid values of a parameter or field look like, in `schema` itself."""
    if name == "order_id":
        # Ids count up from 1 (orders and commands share them): small ones exist, and
        # some are Alice's, some Bob's.
        schema["maximum"] = 3000
    for option in strings(schema):
        if name in ("symbol", "market"):
            option["enum"] = [MARKET]
        elif name in DECIMALS:
            option["pattern"] = DECIMALS[name]
        elif name == "client_order_id":
            option["pattern"] = "^c[0-9]$"  # few, so placing and cancelling meet


def informed(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the spec with the docs' knowledge added (see the module's docstring)."""
    spec = copy.deepcopy(spec)
    for operations in spec["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                narrow(parameter["name"], parameter["schema"])
    schemas = spec["components"]["schemas"]
    for schema in schemas.values():
        for name, field in schema.get("properties", {}).items():
            narrow(name, field)
    fields = schemas["PlaceOrderBody"]["properties"]

    def order(kind: str, required: list[str], **changes: Any) -> dict[str, Any]:
        properties = {**fields, "type": {"type": "string", "enum": [kind]}, **changes}
        return {"type": "object", "additionalProperties": False,
                "properties": {k: v for k, v in properties.items() if v is not None},
                "required": required}

    schemas["PlaceOrderBody"] = {"oneOf": [
        order("limit", ["market", "side", "price", "quantity"], quote_quantity=None,
              price=next(strings(fields["price"])), quantity=next(strings(fields["quantity"]))),
        order("market", ["market", "side", "type"], price=None,
              time_in_force={"type": "string", "enum": ["ioc"]}),
    ]}
    return spec


def fuzz(url: str, key: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    spec = httpx.get(f"{url}/openapi.json").json()
    path = workdir / "openapi.json"
    path.write_bytes(orjson.dumps(informed(spec)))
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "run", str(path), "--url", url,
        "--header", f"Authorization: Bearer {key}", "--checks", "not_a_server_error",
        "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "2",
        "--generation-database", "none", "--request-timeout", "30",
        *os.environ.get("FUZZ_EXTRA", "").split()]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600,
                          check=False)


def rebuilt_ledger(data_dir: Path) -> Ledger:
    """Rebuild the ledger from nothing but the journal of commands."""
    with Journal(data_dir / "journal") as journal:
        return fresh_replay(default_config(), journal, Snapshots(data_dir / "snapshots")).ledger


def totals(user: User) -> dict[str, Decimal]:
    return {asset: Decimal(row["total"]) for asset, row in user.balances().items()}


def test_no_request_gets_a_server_error(exchange_process: Server, tmp_path: Path) -> None:
    url = exchange_process.url
    alice, bob, carol = User(url), User(url), User(url)
    try:
        for i in range(5):  # bids 1.00 .. 5.00 and asks 6.00 .. 10.00, 5 COIN each
            bob.place(side="buy", price=f"{i + 1}.00", quantity="5")
            bob.place(side="sell", price=f"{i + 6}.00", quantity="5")
        result = fuzz(url, alice.new_key("fuzz"), tmp_path)
        assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]

        # Still working: bob and carol trade, and a new user gets the grant.
        bob.http.delete("/orders")
        bob.place(side="sell", price="4.00", quantity="1")
        bought = carol.place(side="buy", price="4.00", quantity="1")
        assert (bought["status"], bought["filled_quote"]) == ("filled", "4.000000")
        with User(url) as dave:
            assert totals(dave) == GRANT
        shown = {u.user_id: totals(u) for u in (alice, bob, carol)}
        # Every fuzzed order was alice's, so money moved among these three only.
        for asset, grant in GRANT.items():
            assert sum(user[asset] for user in shown.values()) == 3 * grant
    finally:
        for user in (alice, bob, carol):
            user.close()

    assert exchange_process.stop() == 0
    ledger = rebuilt_ledger(exchange_process.data_dir)
    accounts = [a.user for a in ledger.accounts() if a.user != FEE_ACCOUNT]
    assert len(accounts) >= 4  # and those the fuzzer signed up
    config = default_config()
    assert ledger.totals() == {code: amount * len(accounts) for code, amount in config.grants}
    units = {asset.code: asset.unit for asset in config.assets}
    for user_id, seen in shown.items():  # what the API showed is what the ledger holds
        assert {code: (available + held) * units[code]
                for code, (available, held) in ledger.balances(user_id).items()} == seen
