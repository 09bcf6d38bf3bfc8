"""The exchange's configuration from a TOML file, flags or the environment.

    [assets]            # code = decimals of the minor unit
    USD = 6
    COIN = 8
    [[markets]]
    symbol = "COIN-USD"
    base = "COIN"
    quote = "USD"
    tick = "0.01"       # optional from here on, with these defaults
    lot = "0.0001"
    max_qty = "1000000"
    max_price = "1000000"
    maker_fee = "0"     # 0.001 is 0.1 %
    taker_fee = "0"
    [grants]            # what each new user is given
    USD = "1000"
    COIN = "100"

A data directory remembers the configuration it was created with: the journal only
replays into the same markets, assets and fees, so starting it with another is refused.
"""

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from exchange.core.markets import Asset, Config, default_config, make_market
from exchange.core.numbers import InvalidNumber, to_units
from exchange.store.port import Store


class SettingsError(ValueError):
    """The configuration cannot be used; the message says where and why."""


def load_config(path: Path | None, *, maker_fee: str | None = None,
                taker_fee: str | None = None, grants: dict[str, str] | None = None) -> Config:
    """Read a TOML file (or take the default market), then apply the flags over it."""
    raw = _read(path) if path else _describe(default_config())
    for market in raw["markets"]:
        if maker_fee is not None:
            market["maker_fee"] = maker_fee
        if taker_fee is not None:
            market["taker_fee"] = taker_fee
    raw["grants"].update(grants or {})
    return _build(raw)


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: {error}") from None
    raw.setdefault("grants", {})
    if not isinstance(raw.get("assets"), dict) or not isinstance(raw.get("markets"), list):
        raise SettingsError(f"{path}: needs an [assets] table and [[markets]]")
    return raw


def _build(raw: dict[str, Any]) -> Config:
    try:
        assets = {code: Asset(code, int(places)) for code, places in raw["assets"].items()}
        markets = tuple(
            make_market(m["symbol"], assets[m["base"]], assets[m["quote"]],
                        **{k: str(v) for k, v in m.items()
                           if k in ("tick", "lot", "min_qty", "max_qty", "max_price",
                                    "maker_fee", "taker_fee")})
            for m in raw["markets"])
        grants = tuple((code, to_units(str(amount), assets[code].unit, f"grants.{code}",
                                       maximum=10**18))
                       for code, amount in raw["grants"].items())
        return Config(tuple(assets.values()), markets, grants)
    except (KeyError, TypeError, ValueError, InvalidNumber) as error:
        raise SettingsError(f"configuration: {error}") from None


def _describe(config: Config) -> dict[str, Any]:
    """The plain data a configuration is built from (the inverse of `_build`)."""
    precision = {a.code: a.precision for a in config.assets}
    return {
        "assets": {a.code: a.precision for a in config.assets},
        "markets": [{"symbol": m.symbol, "base": m.base.code, "quote": m.quote.code,
                     "tick": f"{m.tick:f}", "lot": f"{m.lot:f}",
                     "min_qty": f"{m.min_qty * m.lot:f}", "max_qty": f"{m.max_qty * m.lot:f}",
                     "max_price": f"{m.max_price * m.tick:f}",
                     "maker_fee": f"{Decimal(m.maker_fee_ppm).scaleb(-6):f}",
                     "taker_fee": f"{Decimal(m.taker_fee_ppm).scaleb(-6):f}"}
                    for m in config.markets],
        "grants": {code: f"{Decimal(amount).scaleb(-precision[code]):f}"
                   for code, amount in config.grants},
    }


def remember(config: Config, data_dir: Path) -> None:
    """Record the configuration in a new data directory, or check it is the one recorded."""
    path = data_dir / "config.json"
    described = orjson.dumps(_describe(config), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    if not path.exists():
        path.write_bytes(described)
        return
    if orjson.loads(path.read_bytes()) != orjson.loads(described):
        raise SettingsError(f"{data_dir} was created with the configuration in {path}; start "
                            "with that configuration or use another data directory")


_STORED = "config"


def remember_in_store(config: Config, store: Store) -> None:
    """Record the configuration in a new store (a cluster's Redis), or check it is the one.

    Every process of a cluster must run the same markets, assets and fees: the first to
    start records them, and a process started with another configuration is refused.
    """
    described = _describe(config)
    recorded = store.load_snapshot(_STORED)
    if recorded is None:
        store.save_snapshot(_STORED, orjson.dumps(described, option=orjson.OPT_SORT_KEYS))
        return
    if orjson.loads(recorded) != described:
        raise SettingsError("this cluster (its Redis namespace) was started with another "
                            "configuration; start with that one or use another namespace")
