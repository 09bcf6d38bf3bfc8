"""The topics the services talk over, and what each record's key is.

    risk         key user     gateway -> risk: commands; match -> risk: what happened to
                              each user's orders (trades, cancels, done), to settle
    match        key market   risk -> match: commands risk let through
    user-events  key user     risk -> gateways: what each user should see, in order
    market-data  key market   match -> gateways: trades and level-2 changes

Risk reads one topic, not two, so that each of its partitions is one ordered stream:
replaying it gives back exactly the state it had, whatever the timing was.
"""

from exchange.bus.port import Bus

RISK = "risk"
MATCH = "match"
USER_EVENTS = "user-events"
MARKET_DATA = "market-data"


def create_topics(bus: Bus, partitions: int = 1) -> None:
    """Create every topic with `partitions` partitions (market-data with one per market set)."""
    for topic in (RISK, MATCH, USER_EVENTS, MARKET_DATA):
        bus.create_topic(topic, partitions)


def user_key(user: int) -> bytes:
    return str(user).encode()


def market_key(market: str) -> bytes:
    return market.encode()
