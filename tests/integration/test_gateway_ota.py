"""Sub-device OTA through its gateway (docs/protocol.md "Gateways", docs/ota.md): a gateway
reports a logged-in sub-device's version on /ota/device/inform/{subPk}/{subDn}; an upgrade job
on the sub-device's product reaches the gateway's link on /ota/device/upgrade/{subPk}/{subDn};
the gateway's progress and inform for it are recorded under the sub-device, and the job ends
succeeded. After the sub-device's logout the gateway's upgrade filter is gone."""

from __future__ import annotations

import json
import os

import pytest

from harness import poll_until
from test_sub_sessions import SessionGateway
from test_topology import topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways and OTA")


def test_a_sub_devices_upgrade_goes_through_its_gateway(broker, api, made):
    gw_pk = api.product("ota hubs", nodeType="gateway")["productKey"]
    pk = api.product("ota meters", nodeType="subdevice")["productKey"]
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    meter = {**api.device(pk), "productKey": pk}
    dn = meter["deviceName"]
    assert gw.call("add", [topo_sign(meter, "c")])["code"] == 200
    assert gw.session("login", topo_sign(meter, "c"))["code"] == 200
    upgrade = f"/ota/device/upgrade/{pk}/{dn}"
    assert gw.c.subscribe([(upgrade, 1)]) == [1]

    gw.c.publish(f"/ota/device/inform/{pk}/{dn}",
                 json.dumps({"id": 1, "params": {"version": "1.0"}}), qos=1)
    poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/versions")["versions"],
               lambda v: v == [{"module": "default", "version": "1.0", "devices": 1}])
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=1.1", raw=os.urandom(2048),
                  headers={"Content-Type": "application/octet-stream"}).json
    job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                 {"firmwareId": fw["firmwareId"], "devices": [dn]}, 201)["jobId"]
    m = gw.c.get_where(lambda m: m.topic == upgrade, timeout=10)
    assert json.loads(m.payload)["data"]["version"] == "1.1"

    gw.c.publish(f"/ota/device/progress/{pk}/{dn}",
                 json.dumps({"id": 2, "params": {"step": "50", "desc": ""}}), qos=1)
    poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
               lambda j: j["devices"][0]["progress"] == 50)
    gw.c.publish(f"/ota/device/inform/{pk}/{dn}",
                 json.dumps({"id": 3, "params": {"version": "1.1"}}), qos=1)
    j = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                   lambda j: j["state"] == "done")
    assert j["counts"]["succeeded"] == 1
    assert j["devices"][0]["deviceName"] == dn and j["devices"][0]["state"] == "succeeded"

    # logged out: the upgrade topic is the gateway's no more
    assert gw.session("logout", {"productKey": pk, "deviceName": dn})["code"] == 200
    assert gw.c.subscribe([(upgrade, 1)]) == [128]
