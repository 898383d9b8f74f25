"""Remote configuration for sub-devices (docs/ota.md "Remote configuration", docs/protocol.md
"Gateways"): a push reaches a sub-device logged in through its gateway on the sub-device's own
/sys/{subPk}/{subDn}/thing/config/push, over the gateway's link; the gateway's push_reply on the
sub-device's topic is recorded for it; a sub-device not logged in is counted offline; the
gateway's thing.config.get for the sub-device is answered; a gateway cannot reply for a
sub-device it has not logged in."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness import poll_until
from test_sub_sessions import SessionGateway
from test_topology import topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways and remote configuration")


def test_a_push_reaches_a_sub_device_through_its_gateway(broker, api, made):
    gw_pk = api.product("config hubs", nodeType="gateway")["productKey"]
    pk = api.product("config meters", nodeType="subdevice")["productKey"]
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    on, off = ({**api.device(pk), "productKey": pk} for _ in range(2))
    assert gw.call("add", [topo_sign(on, "c"), topo_sign(off, "d")])["code"] == 200
    assert gw.session("login", topo_sign(on, "c"))["code"] == 200
    dn = on["deviceName"]
    base = f"/sys/{pk}/{dn}/thing/config"
    assert gw.c.subscribe([(f"{base}/push", 1), (f"{base}/get_reply", 0)]) == [1, 0]

    data = b"mode=eco\n"
    cfg = api.call("POST", f"/api/v1/products/{pk}/configs", raw=data,
                   headers={"Content-Type": "application/octet-stream"}).json
    r = api.ok("POST", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push", {}, 202)
    assert r["devices"] == 2
    m = gw.c.get_where(lambda m: m.topic == f"{base}/push", timeout=10)
    assert m.qos == 1
    push = json.loads(m.payload)
    assert push["method"] == "thing.config.push"
    assert push["params"]["configId"] == cfg["configId"]
    assert push["params"]["sign"] == hashlib.sha256(data).hexdigest()

    # the gateway asks for the sub-device too: answered on the sub-device's get_reply
    gw.c.publish(f"{base}/get", json.dumps({"id": "9", "version": "1.0",
                                            "method": "thing.config.get", "params": {}}), qos=0)
    got = json.loads(gw.c.get_where(lambda m: m.topic == f"{base}/get_reply", timeout=10).payload)
    assert got["code"] == 200 and got["data"]["configId"] == cfg["configId"]

    # not logged in: the gateway's reply for `off` is not the sub-device's
    off_dn = off["deviceName"]
    gw.c.publish(f"/sys/{pk}/{off_dn}/thing/config/push_reply",
                 json.dumps({"id": push["id"], "code": 200, "data": {}}), qos=0)
    gw.c.publish(f"{base}/push_reply", json.dumps({"id": push["id"], "code": 200, "data": {}}),
                 qos=1)
    view = poll_until(
        lambda: api.ok("GET", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push"),
        lambda v: v["counts"]["replied"] == 1 and v["state"] == "done")
    assert view["counts"] == {"waiting": 0, "sent": 0, "offline": 1, "replied": 1}
    by_name = {d["deviceName"]: d for d in view["devices"]}
    assert by_name[dn]["state"] == "replied" and by_name[dn]["code"] == 200
    assert by_name[off_dn]["state"] == "offline"
