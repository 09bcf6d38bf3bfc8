"""Configuration from TOML and flags, and a data directory's memory of it."""

from pathlib import Path

import pytest

from exchange.core.markets import default_config
from exchange.settings import SettingsError, load_config, remember

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "markets.toml"


def test_the_default_is_the_toys_market() -> None:
    assert load_config(None) == default_config()


def test_flags_override_fees_and_grants() -> None:
    config = load_config(None, taker_fee="0.002", grants={"USD": "50"})
    assert config.markets[0].taker_fee_ppm == 2000 and config.markets[0].maker_fee_ppm == 0
    assert dict(config.grants)["USD"] == 50_000_000


def test_the_example_file_has_two_markets() -> None:
    config = load_config(EXAMPLE)
    assert [m.symbol for m in config.markets] == ["COIN-USD", "GEM-USD"]
    assert config.market("GEM-USD").quote_scale == 10  # 0.001 x 0.01 / 0.000001
    assert dict(config.grants) == {"USD": 1000_000000, "COIN": 100 * 10**8, "GEM": 500_0000}


@pytest.mark.parametrize("text", [
    "not toml [",
    "[assets]\nUSD = 6\n",  # no markets
    '[assets]\nUSD = 6\n[[markets]]\nsymbol = "X"\nbase = "NOPE"\nquote = "USD"\n',
    '[assets]\nUSD = 2\nC = 0\n[[markets]]\nsymbol = "C-USD"\nbase = "C"\nquote = "USD"\n'
    'tick = "0.001"\n',  # tick x lot is not a whole number of cents
    '[assets]\nUSD = 6\nC = 2\n[[markets]]\nsymbol = "C-USD"\nbase = "C"\nquote = "USD"\n'
    'lot = "0.01"\n[grants]\nUSD = "-5"\n',
])
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError):
        load_config(path)


def test_a_data_directory_refuses_another_configuration(tmp_path: Path) -> None:
    remember(default_config(), tmp_path)
    remember(default_config(), tmp_path)  # the same one again is fine
    with pytest.raises(SettingsError, match="created with"):
        remember(load_config(None, taker_fee="0.001"), tmp_path)
