"""Issue 3's done-when: the Aliyun docs' Node.js device (MQTT.js, hmacsha1, securemode=3,
clean=false, keepalive 60) connects to thingport with only the host changed, posts on its topics
and gets [128] for /{pk}/{dn}/control and for another device's topics."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.thingport_only(reason="Aliyun device login is thingport's")

JS = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def test_node_example_device(broker, client_factory):
    demo = broker.demo
    pk, dn = demo["productKey"], demo["deviceName"]
    cloud = client_factory()
    cloud.subscribe(f"/{pk}/{dn}/user/update", 1)
    proc = subprocess.Popen(["node", str(JS / "aliyun_device.js"), broker.host, str(broker.port),
                             pk, dn, demo["deviceSecret"]], cwd=JS, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    events = []
    got_puback = threading.Event()

    def read():
        for line in proc.stdout:
            ev = json.loads(line)
            events.append(ev)
            if ev["event"] == "puback":
                got_puback.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert got_puback.wait(15), f"no puback; events {events}; stderr {proc.stderr.read()}"
        post = cloud.get()
        assert json.loads(post.payload) == {"temperature": 21.5, "humidity": 40}
        # The cloud commands the device on its /user/get topic.
        cloud.publish(f"/{pk}/{dn}/user/get", b"bye", qos=1)
        assert proc.wait(15) == 0, f"events {events}"
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(5)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "connect", events
    suback = next(e for e in events if e["event"] == "suback")
    assert suback["granted"] == [1, 128, 128], events
    assert {"event": "message", "topic": f"/{pk}/{dn}/user/get", "payload": "bye"} in events
