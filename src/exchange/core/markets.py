"""Assets, markets and the exchange's configuration, with the scales that keep money exact.

Inside the core a price is a count of ticks and a quantity a count of lots. A market
fixes how those convert to its assets' minor units, so that every amount of money is an
exact integer:

    base amount  (base minor units)  = qty   * base_scale
    quote amount (quote minor units) = price * qty * quote_scale

`base_scale` = lot / base unit and `quote_scale` = tick * lot / quote unit must both be
whole numbers; a market whose tick and lot cannot be settled exactly is refused.
Fee rates are integers in millionths (ppm) of the quote amount, rounded down.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from mypy_extensions import i64

from exchange.core.numbers import InvalidNumber, to_decimal, to_units

PPM: Final = 1_000_000
_AMOUNT_LIMIT: Final = 1 << 62
MAX_FEE_PPM: Final = 100_000  # 10 %: anything above is surely a configuration mistake


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    precision: int  # decimals of the minor unit: 2 means cents

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.precision)


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base: Asset
    quote: Asset
    tick: Decimal  # price step, in quote per one base
    lot: Decimal  # quantity step, in base
    min_qty: int  # lots
    max_qty: int  # lots
    max_price: int  # ticks
    maker_fee_ppm: int = 0
    taker_fee_ppm: int = 0
    base_scale: int = field(init=False)
    quote_scale: int = field(init=False)
    max_fee_ppm: int = field(init=False, repr=False, compare=False)  # maker's or taker's

    def __post_init__(self) -> None:
        base_scale = self.lot / self.base.unit
        quote_scale = self.tick * self.lot / self.quote.unit
        if base_scale != base_scale.to_integral_value() or base_scale < 1:
            raise ValueError(f"{self.symbol}: lot {self.lot} is not a whole number of "
                             f"{self.base.code} minor units")
        if quote_scale != quote_scale.to_integral_value() or quote_scale < 1:
            raise ValueError(f"{self.symbol}: tick x lot {self.tick * self.lot} is not a whole "
                             f"number of {self.quote.code} minor units")
        if not 1 <= self.min_qty <= self.max_qty or self.max_price < 1:
            raise ValueError(f"{self.symbol}: need 1 <= min_qty <= max_qty and max_price >= 1")
        for rate in (self.maker_fee_ppm, self.taker_fee_ppm):
            if not 0 <= rate <= MAX_FEE_PPM:
                raise ValueError(f"{self.symbol}: fee rates must be within 0..{MAX_FEE_PPM} ppm")
        # The largest order's cost, fees included, and its base amount must fit in 63 bits
        # (the core computes them in 64-bit integers), with room to spare.
        if (self.max_price * self.max_qty * int(quote_scale) >= _AMOUNT_LIMIT
                or self.max_qty * int(base_scale) >= _AMOUNT_LIMIT):
            raise ValueError(f"{self.symbol}: max_price x max_quantity is too large: the "
                             "amounts of one order must stay under 2^62 minor units")
        object.__setattr__(self, "base_scale", int(base_scale))
        object.__setattr__(self, "quote_scale", int(quote_scale))
        object.__setattr__(self, "max_fee_ppm", max(self.maker_fee_ppm, self.taker_fee_ppm))

    # ---- the arithmetic of money: its one home, for risk and the book alike ----------

    # In 64-bit integers (`i64`): compiled, Python's ints take a slow path for products
    # this large. `__post_init__` refuses a market whose amounts could overflow them.

    def notional(self, price: i64, qty: i64) -> i64:
        """Return what `qty` lots at `price` ticks cost, in quote minor units."""
        return price * qty * self.quote_scale

    def base_amount(self, qty: i64) -> i64:
        """Return `qty` lots in base minor units."""
        return qty * self.base_scale

    @staticmethod
    def fee(notional: i64, rate_ppm: i64) -> i64:
        """Return the fee on `notional` at `rate_ppm` millionths, rounded down."""
        # notional x rate could pass 2^63; split at PPM instead: exactly the same floor.
        return notional // PPM * rate_ppm + notional % PPM * rate_ppm // PPM

    def buy_obligation(self, price: i64, qty: i64) -> i64:
        """Return what a limit buy of `qty` lots at `price` may still cost: the notional
        and the largest fee it could pay (it may fill as maker or as taker)."""
        notional = price * qty * self.quote_scale
        return notional + Market.fee(notional, self.max_fee_ppm)

    def affordable(self, budget: int, price: int, fee_ppm: int) -> int:
        """Return the most lots at `price` that `budget` pays for, a fee at `fee_ppm`
        included."""
        unit_cost = price * self.quote_scale
        lots = budget * PPM // (unit_cost * (PPM + fee_ppm))
        # Fees round down, so one more lot may still fit.
        while (n := (lots + 1) * unit_cost) + n * fee_ppm // PPM <= budget:
            lots += 1
        return lots

    def parse_price(self, value: object, field: str = "price") -> int:
        """Convert a decimal price string to ticks."""
        return to_units(value, self.tick, field, maximum=self.max_price)

    def parse_qty(self, value: object, field: str = "quantity") -> int:
        """Convert a decimal base quantity to lots, within the market's size limits."""
        lots = to_units(value, self.lot, field, maximum=self.max_qty)
        if lots < self.min_qty:
            raise InvalidNumber(field, f"must be at least {self.min_qty * self.lot:f}")
        return lots

    def parse_quote(self, value: object, field: str = "quote_quantity") -> int:
        """Convert a decimal quote amount (a market buy's budget) to quote minor units."""
        cap = self.max_price * self.max_qty * self.quote_scale
        return to_units(value, self.quote.unit, field, maximum=cap)


def fee_ppm(rate: object, field: str = "fee") -> int:
    """Convert a fee rate such as '0.001' (0.1 %) to millionths."""
    number = to_decimal(rate, field)
    if number.is_signed():
        raise InvalidNumber(field, "must not be negative")
    ppm = number * PPM
    if ppm != ppm.to_integral_value():
        raise InvalidNumber(field, "must be a multiple of 0.000001")
    if ppm > MAX_FEE_PPM:
        raise InvalidNumber(field, "must be at most 0.1")
    return int(ppm)


def make_market(
    symbol: str,
    base: Asset,
    quote: Asset,
    *,
    tick: str = "0.01",
    lot: str = "0.0001",
    min_qty: str | None = None,  # one lot
    max_qty: str = "1000000",
    max_price: str = "1000000",
    maker_fee: str = "0",
    taker_fee: str = "0",
) -> Market:
    """Build a market from decimal strings, as a configuration file would give them."""
    tick_d, lot_d = Decimal(tick), Decimal(lot)
    return Market(
        symbol=symbol,
        base=base,
        quote=quote,
        tick=tick_d,
        lot=lot_d,
        min_qty=to_units(min_qty or lot, lot_d, "min_qty", maximum=10**30),
        max_qty=to_units(max_qty, lot_d, "max_qty", maximum=10**30),
        max_price=to_units(max_price, tick_d, "max_price", maximum=10**30),
        maker_fee_ppm=fee_ppm(maker_fee, "maker_fee"),
        taker_fee_ppm=fee_ppm(taker_fee, "taker_fee"),
    )


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the core needs to know up front: assets, markets, the starting grant."""

    assets: tuple[Asset, ...]
    markets: tuple[Market, ...]
    grants: tuple[tuple[str, int], ...]  # (asset code, minor units) given to each new account

    def __post_init__(self) -> None:
        codes = {a.code for a in self.assets}
        if len(codes) != len(self.assets):
            raise ValueError("asset codes must be unique")
        if len({m.symbol for m in self.markets}) != len(self.markets):
            raise ValueError("market symbols must be unique")
        for m in self.markets:
            if m.base.code not in codes or m.quote.code not in codes or m.base == m.quote:
                raise ValueError(f"{m.symbol}: base and quote must be two configured assets")
        for code, amount in self.grants:
            if code not in codes or amount < 0:
                raise ValueError(f"grant {code}: unknown asset or negative amount")

    def market(self, symbol: str) -> Market:
        for m in self.markets:
            if m.symbol == symbol:
                return m
        raise KeyError(symbol)


USD = Asset("USD", 6)
COIN = Asset("COIN", 8)


def default_config(
    *, maker_fee: str = "0", taker_fee: str = "0", grant_usd: str = "1000", grant_coin: str = "100"
) -> Config:
    """Return the toy's exchange: one market COIN-USD; $1000 and 100 COIN for each user."""
    coin_usd = make_market("COIN-USD", COIN, USD, maker_fee=maker_fee, taker_fee=taker_fee)
    return Config(
        assets=(USD, COIN),
        markets=(coin_usd,),
        grants=(
            ("USD", to_units(grant_usd, USD.unit, "grant_usd", maximum=10**18)),
            ("COIN", to_units(grant_coin, COIN.unit, "grant_coin", maximum=10**18)),
        ),
    )
