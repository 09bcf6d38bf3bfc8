"""Signing as Binance documents it: the HMAC test vector, the payload, Ed25519."""

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.binance.params import Params, verifies

# Binance's documented example (rest-api.md, "SIGNED endpoint examples").
SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PAYLOAD = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
           "&recvWindow=5000&timestamp=1499827319559")
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_the_documented_hmac_example_verifies_and_a_changed_one_does_not() -> None:
    assert verifies(SECRET, None, PAYLOAD.encode(), SIGNATURE)
    assert verifies(SECRET, None, PAYLOAD.encode(), SIGNATURE.upper())  # hex, either case
    assert not verifies(SECRET, None, PAYLOAD.replace("0.1", "0.2").encode(), SIGNATURE)
    assert not verifies(SECRET, None, PAYLOAD.encode(), SIGNATURE[:-1] + "0")
    assert not verifies(SECRET, None, PAYLOAD.encode(), "é" * 64)


def test_the_payload_is_the_query_then_the_body_without_the_signature() -> None:
    # Binance's second example: some parameters in the query, the rest in the body.
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature={SIGNATURE}"
    params = Params({}, query, body)
    expected = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1"
                "&recvWindow=5000&timestamp=1499827319559")
    assert params.payload() == expected.encode()
    assert verifies(SECRET, None, params.payload(),  # the example's signature
                    "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")
    assert Params({}, f"signature=x&{PAYLOAD}", "").payload() == PAYLOAD.encode()


def test_an_ed25519_signature_is_base64_of_the_payloads_signature() -> None:
    private = Ed25519PrivateKey.generate()
    signature = base64.b64encode(private.sign(PAYLOAD.encode())).decode()
    public = private.public_key()
    assert verifies(None, public, PAYLOAD.encode(), signature)
    assert not verifies(None, public, (PAYLOAD + "1").encode(), signature)
    assert not verifies(None, public, PAYLOAD.encode(), "not base64!")
    assert not verifies(None, Ed25519PrivateKey.generate().public_key(), PAYLOAD.encode(),
                        signature)
    assert not verifies(None, None, PAYLOAD.encode(), signature)
