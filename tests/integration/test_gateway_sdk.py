"""The SDK's gateway API (sdk/include/thingport/device/gateway.hpp) against a real server, through
the SDK probe (--gateway): product_register and register_subs give the secrets, add_topo,
get_topo, login (ONLINE through the API), logout (OFFLINE), delete_topo (the topology empties),
and the refusals' codes as the SDK reports them."""

from __future__ import annotations

import pytest

from sdkprobe import probes  # noqa: F401

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")


def spec(d: dict, pk: str, secret: bool = True) -> str:
    return f"{pk}:{d['deviceName']}" + (f":{d['deviceSecret']}" if secret else "")


def test_the_sdk_gateway_against_the_server(broker, api, probes):  # noqa: F811
    gw_pk = api.product("sdk hubs", nodeType="gateway")["productKey"]
    prod = api.product("sdk meters", nodeType="subdevice", dynamicRegistration=True)
    pk = prod["productKey"]
    gw = api.device(gw_pk)
    made = [api.device(pk) for _ in range(3)]
    p = probes("--url", f"mqtt://127.0.0.1:{broker.port}", "--pk", gw_pk, "--dn",
               gw["deviceName"], "--ds", gw["deviceSecret"], "--gateway")
    p.connected()

    def op(line: str) -> dict:
        at = p.mark()
        p.send(line)
        ev = p.wait_event("gw_reply", after=at, op=line.split()[0])
        assert ev["error"] is None, ev
        return ev

    # Registration through the gateway: product_register (signed with the product secret) and
    # thing.sub.register; both give the device secret the platform holds.
    names = [d["deviceName"] for d in made]
    r = op(f"gw_product_register {prod['productSecret']} {pk}:{names[0]}")
    assert r["code"] == 200 and r["data"]["failures"] == [], r
    assert r["data"]["successes"][0]["deviceSecret"] == made[0]["deviceSecret"]
    r = op(f"gw_product_register wrong-secret {pk}:{names[0]}")
    assert r["code"] == 200 and r["data"]["failures"][0]["code"] == 6600, r
    r = op(f"gw_register {pk}:{names[1]} {pk}:{names[2]}")
    assert r["code"] == 200 and [d["deviceSecret"] for d in r["data"]] == \
        [d["deviceSecret"] for d in made[1:]], r

    # Topology: add (a wrong sign refused with 401 and nothing added), get.
    bad = dict(made[0], deviceSecret="0" * 32)
    assert op(f"gw_add {spec(bad, pk)}")["code"] == 401
    assert op("gw_get")["data"] == []
    assert op("gw_add " + " ".join(spec(d, pk) for d in made))["code"] == 200
    assert sorted(d["deviceName"] for d in op("gw_get")["data"]) == sorted(names)

    # Login and logout of one sub-device; its status through the API.
    dev = f"/api/v1/products/{pk}/devices/{names[0]}"
    assert op(f"gw_login {spec(bad, pk)}")["code"] == 401
    assert api.ok("GET", dev)["status"] != "ONLINE"
    r = op(f"gw_login {spec(made[0], pk)}")
    assert r["code"] == 200 and r["data"] == {"productKey": pk, "deviceName": names[0]}, r
    assert api.ok("GET", dev)["status"] == "ONLINE"
    assert op(f"gw_logout {spec(made[0], pk, False)}")["code"] == 200
    assert api.ok("GET", dev)["status"] == "OFFLINE"

    # delete_topo: the topology empties; a login then is 6401 (not in its topology).
    assert op("gw_delete " + " ".join(spec(d, pk, False) for d in made))["code"] == 200
    assert op("gw_get")["data"] == []
    assert op(f"gw_login {spec(made[0], pk)}")["code"] == 6401
    assert op(f"gw_delete {spec(made[0], pk, False)}")["code"] == 6100
    assert p.close() == 0


def test_the_sdk_gateway_forgets_a_logged_out_sub_devices_filters(broker, api, probes):  # noqa: F811
    """client::unsubscribe answers with the UNSUBACK; gateway::logout unsubscribes the client
    from the sub-device's topics, so the next link (after a kick) does not subscribe them again
    (the server would refuse them: 0x80)."""
    gw_pk = api.product("sdk unsub hubs", nodeType="gateway")["productKey"]
    pk = api.product("sdk unsub meters", nodeType="subdevice")["productKey"]
    gw, meter = api.device(gw_pk), api.device(pk)
    p = probes("--url", f"mqtt://127.0.0.1:{broker.port}", "--pk", gw_pk, "--dn",
               gw["deviceName"], "--ds", gw["deviceSecret"], "--gateway", "--backoff-ms", "20",
               "--backoff-max-ms", "100")
    p.connected()

    def op(line: str) -> dict:
        at = p.mark()
        p.send(line)
        ev = p.wait_event("gw_reply", after=at, op=line.split()[0])
        assert ev["error"] is None, ev
        return ev

    def sub(filt: str) -> int:
        at = p.mark()
        p.send(f"sub {filt} 1")
        return p.wait_event("suback", after=at, filter=filt)["granted"]

    own = f"/sys/{gw_pk}/{gw['deviceName']}/thing/service/property/set"
    assert sub(own) == 1
    at = p.mark()
    p.send(f"unsub {own} /not/subscribed")
    assert p.wait_event("unsuback", after=at)["error"] is None

    assert op(f"gw_add {spec(meter, pk)}")["code"] == 200
    assert op(f"gw_login {spec(meter, pk)}")["code"] == 200
    theirs = f"/sys/{pk}/{meter['deviceName']}/thing/service/property/set"
    assert sub(theirs) == 1
    assert op(f"gw_logout {spec(meter, pk, False)}")["code"] == 200

    # A new link: the client subscribes what it holds; the sub-device's filter is not among it.
    dev = f"/api/v1/products/{gw_pk}/devices/{gw['deviceName']}"
    at = p.mark()
    api.ok("POST", dev + "/disable")
    p.wait_event("status", after=at, state="waiting")
    api.ok("POST", dev + "/enable")
    p.connected(after=at)
    assert sub(own) == 1  # its SUBACK comes after those of the resubscription
    assert [e for e in p.events[at:] if e.get("event") == "suback" and e["filter"] == theirs] == []
    assert p.close() == 0
