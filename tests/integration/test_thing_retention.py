"""The [thing] config section (docs/thing.md "Retention"): how many values a property keeps."""

from __future__ import annotations

import pytest

from apiclient import Api
from test_thing import Device

pytestmark = pytest.mark.thingport_only(reason="the thing model is thingport's")


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"
                                "[thing]\nkeep_values = 2\nkeep_age = \"0\"\nprune_interval = \"1h\"\n"}


def test_keep_values_bounds_the_history(broker):
    api = Api(broker)
    pk = api.product("retention")["productKey"]
    d = api.device(pk)
    dev = Device(broker, pk, d["deviceName"], d["deviceSecret"])
    try:
        for v in range(5):
            # keep_age "0": a value from 2001 is kept all the same
            assert dev.request("thing/event/property/post",
                               {"n": {"value": v, "time": 1000000000000 + v}})["code"] == 200
        hist = api.ok("GET", f"/api/v1/products/{pk}/devices/{dev.dn}/properties/n/history")
        assert [x["value"] for x in hist["values"]] == [4, 3]
    finally:
        dev.close()
