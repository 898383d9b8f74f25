"""Dynamic registration over MQTT (docs/protocol.md "Dynamic registration"): authType=register answers the deviceSecret on
/ext/register and regnwl a deviceToken on /ext/regnwl, without SUBSCRIBE, over TLS only; the
token then logs in with authType=connwl. Real paho clients over the real TLS listener."""

from __future__ import annotations

import json

import pytest

import aliyun
from apiclient import Api
from transport_broker import TransportClient, broker, transport_client  # noqa: F401

pytestmark = pytest.mark.thingport_only(reason="dynamic registration is thingport's")


@pytest.fixture(scope="module")
def product(broker):
    return Api(broker).product("self-registering", dynamicRegistration=True)


def register_creds(pk, ps, dn, kind="register", random="8Ygb7ULYh53B6OA"):
    securemode = 2 if kind == "register" else -2
    return {"client_id": f"reg|securemode={securemode},authType={kind},random={random},"
                         f"signmethod=hmacsha256|",
            "username": f"{dn}&{pk}",
            "password": aliyun.hmac_hex("hmacsha256", ps,
                                        f"deviceName{dn}productKey{pk}random{random}")}


def test_register_answers_the_device_secret_over_tls(broker, product, made):
    pk, ps = product["productKey"], product["productSecret"]
    created = Api(broker).device(pk, "reg-one")
    c = transport_client(broker, "tls", made, **register_creds(pk, ps, "reg-one"))
    answer = c.get()
    assert answer.topic == "/ext/register"
    assert json.loads(answer.payload) == {"productKey": pk, "deviceName": "reg-one",
                                          "deviceSecret": created["deviceSecret"]}
    # The secret logs in as the device.
    cred = aliyun.device_credentials(pk, "reg-one", json.loads(answer.payload)["deviceSecret"])
    transport_client(broker, "tls", made, **cred)


def test_register_needs_tls(broker, product, made):
    pk, ps = product["productKey"], product["productSecret"]
    Api(broker).device(pk, "reg-plain")
    c = TransportClient(broker, "tcp", **register_creds(pk, ps, "reg-plain"))
    made.append(c)
    c.connect(expect_rc=2)


def test_register_with_a_wrong_sign_is_refused(broker, product, made):
    pk = product["productKey"]
    Api(broker).device(pk, "reg-wrong")
    c = TransportClient(broker, "tls", **register_creds(pk, "not-the-secret", "reg-wrong"))
    made.append(c)
    c.connect(expect_rc=4)


def test_regnwl_gives_a_token_that_logs_in_with_connwl(broker, product, made):
    pk, ps = product["productKey"], product["productSecret"]
    c = transport_client(broker, "tls", made, **register_creds(pk, ps, "nwl-one", kind="regnwl"))
    answer = c.get()
    assert answer.topic == "/ext/regnwl"
    body = json.loads(answer.payload)
    assert body["productKey"] == pk and body["deviceName"] == "nwl-one" and body["deviceToken"]
    # the device now exists
    assert Api(broker).show(pk, "nwl-one")["deviceName"] == "nwl-one"
    cred = {"client_id": f"{body['clientId']}|securemode=-2,authType=connwl|",
            "username": f"nwl-one&{pk}", "password": body["deviceToken"]}
    transport_client(broker, "tls", made, **cred)
    bad = dict(cred, password="0" * 32)
    c2 = TransportClient(broker, "tls", **bad)
    made.append(c2)
    c2.connect(expect_rc=4)
