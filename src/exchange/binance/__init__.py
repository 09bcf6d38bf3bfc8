"""A Binance-compatible spot API (`/api/v3`): one more edge over the gateway, like
`/api/v1`, so that bots written for Binance (ccxt, python-binance, binance-sdk-spot)
trade here by changing only their base URL. Shapes, codes and rules follow Binance's
public spot API documentation; docs/binance.md says what is served and what is not.
"""
