"""python-binance and Binance's own binance-sdk-spot, unmodified, each from its own
virtual environment (scripts/clients.sh), trading on `exchange run` through /api/v3.
The scripts they run are in clients/; what the bots saw comes back as JSON."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.binance.signed import Bot

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).parent / "clients"


def run_bot(library: str, script: str, url: str, seller: Bot, buyer: Bot) -> dict[str, Any]:
    python = ROOT / ".venv-clients" / library / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{library} is not installed: run scripts/clients.sh (scripts/test does)")
    done = subprocess.run([str(python), str(CLIENTS / script), url, seller.key, seller.secret,
                           buyer.key, buyer.secret], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def python_binance(url: str, bot: Bot, calls: list[list[Any]]) -> list[Any]:
    """Call python-binance `Client` methods (in its own environment) as `bot`."""
    python = ROOT / ".venv-clients" / "python-binance" / "bin" / "python"
    if not python.exists():
        pytest.skip("python-binance is not installed: run scripts/clients.sh")
    done = subprocess.run([str(python), str(CLIENTS / "python_binance_calls.py"), url,
                           bot.key, bot.secret, json.dumps(calls)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[Any] = json.loads(done.stdout)
    return results


def test_python_binance_trades_reads_and_gets_binances_errors(exchange_server: str, bot: Bot,
                                                             other_bot: Bot) -> None:
    seen = run_bot("python-binance", "python_binance_bot.py", exchange_server, bot, other_bot)
    assert seen["symbols"] == ["COINUSD"]
    assert seen["ask"] == ["NEW", "LIMIT", "10.00"]
    assert seen["bought"] == ["FILLED", "0.4000", [["10.00", "0.4000"]]]
    assert (seen["order"], seen["open"]) == ("PARTIALLY_FILLED", [True])
    assert seen["trades"] == [["10.00", "0.4000", True]]
    assert seen["klines"] == [["10.00", "10.00", "10.00", "10.00", "0.4000"]]
    assert seen["book"] == [["10.00", "0.6000"]]
    assert seen["balances"]["COIN"] == ["99.00000000", "0.60000000"]
    assert seen["stop"] == "STOP_LOSS_LIMIT"
    assert seen["cancelled"] == "CANCELED"
    assert seen["errors"] == {"unknown": -2011, "funds": -2010, "symbol": -1121}
    assert bot.balances()["COIN"] == ("98.60000000", "1.00000000")  # the stop still holds


def test_binance_sdk_spot_trades_and_reads(exchange_server: str, bot: Bot,
                                           other_bot: Bot) -> None:
    seen = run_bot("binance-sdk-spot", "sdk_spot_bot.py", exchange_server, bot, other_bot)
    assert seen["symbols"] == ["COINUSD"]
    assert seen["ask"] == ["NEW", "10.00"]
    assert seen["bought"] == ["FILLED", "0.5000"]
    assert seen["order"] == "PARTIALLY_FILLED"
    assert seen["depth"] == [["10.00", "1.5000"]]
    assert seen["account"]["COIN"] == ["98.00000000", "1.50000000"]
    assert seen["trades"] == [["10.00", "0.5000"]]
    assert seen["cancelled"] == "CANCELED"
    assert "-2011" in seen["error"]
