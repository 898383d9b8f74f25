"""MQTT block download of firmware (docs/protocol.md "OTA: MQTT block download"), for devices
without HTTP, with a raw MQTT client writing requests byte for byte as the Link SDK 4.x's
mqtt_download does (a comma before fileInfo's '}' included): a job with
"downloadProtocol":"mqtt" sends "dProtocol":"mqtt", "streamId" and "streamFileId" instead of a
URL; the device fetches the file in 5 KiB blocks, each reply framed (2-byte length, JSON header,
block, CRC-16/IBM low byte first) and checked; the whole file's MD5 and SHA-256 match; the
device informs the new version and the job succeeds. Bad requests are answered with a code, a
device without that stream gets 404, and a flood past the per-device rate is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time

import pytest

import aliyun
from harness import poll_until
from mqtt_clients import MqttClient

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")

BLOCK = 5 * 1024  # the SDK's default request size


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def crc16_ibm(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def unframe(payload: bytes):
    """(header, block) of a download_reply; the CRC checked when there is a block."""
    n = struct.unpack(">H", payload[:2])[0]
    header = json.loads(payload[2:2 + n])
    if header["code"] != 200:
        assert len(payload) == 2 + n, header
        return header, b""
    block = payload[2 + n:-2]
    assert len(block) == header["data"]["bSize"], header
    assert struct.unpack("<H", payload[-2:])[0] == crc16_ibm(block)
    return header, block


def request(c: MqttClient, pk: str, dn: str, rid: int, stream: int, offset: int, size: int,
            file_id: int = 1) -> None:
    # As the SDK formats it, trailing comma and all.
    params = ('{"fileToken":"default","fileInfo":{"streamId":%d,"fileId":%d,},'
              '"fileBlock":{"size":%d,"offset":%d}}' % (stream, file_id, size, offset))
    c.publish(f"/sys/{pk}/{dn}/thing/file/download",
              '{"id":"%d","version":"1.0","params":%s}' % (rid, params), qos=0)


def device(broker, pk: str, d: dict, made: list) -> MqttClient:
    cred = aliyun.device_credentials(pk, d["deviceName"], d["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], clean_session=True, keepalive=60,
                   username=cred["username"], password=cred["password"])
    made.append(c)
    c.connect()
    c.subscribe([(f"/ota/device/upgrade/{pk}/{d['deviceName']}", 1),
                 (f"/sys/{pk}/{d['deviceName']}/thing/file/download_reply", 0)])
    return c


def reply(c: MqttClient, timeout: float = 10):
    m = c.get_where(lambda m: m.topic.endswith("/thing/file/download_reply"), timeout=timeout)
    return unframe(m.payload)


def test_a_device_downloads_its_firmware_in_blocks_over_mqtt(broker, api, made):
    pk = api.product("ota mqtt")["productKey"]
    devs = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                  {"prefix": "blk", "count": 2}, 201)["devices"]
    d, other = sorted(devs, key=lambda x: x["deviceName"])
    dn = d["deviceName"]
    c = device(broker, pk, d, made)
    data = os.urandom(3 * BLOCK * 10 + 123)  # not a whole number of blocks
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=3.0", raw=data,
                  headers={"Content-Type": "application/octet-stream"}).json
    assert api.call("POST", f"/api/v1/products/{pk}/ota/jobs",
                    {"firmwareId": fw["firmwareId"], "devices": [dn],
                     "downloadProtocol": "ftp"}).status == 400
    job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                 {"firmwareId": fw["firmwareId"], "devices": [dn],
                  "downloadProtocol": "mqtt"}, 201)["jobId"]
    up = json.loads(c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"),
                                timeout=10).payload)
    u = up["data"]
    assert u["dProtocol"] == "mqtt" and u["streamFileId"] == 1 and "url" not in u, u
    assert isinstance(u["streamId"], int) and 0 < u["streamId"] < 2 ** 32
    assert u["size"] == len(data) and u["md5"] == hashlib.md5(data).hexdigest()
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}")["downloadProtocol"] == "mqtt"
    stream = u["streamId"]

    # the whole file, a block a request, as the SDK goes
    t0 = time.monotonic()
    got = bytearray()
    rid = 0
    while len(got) < len(data):
        rid += 1
        request(c, pk, dn, rid, stream, len(got), min(BLOCK, len(data) - len(got)))
        h, block = reply(c)
        assert h["code"] == 200 and h["id"] == str(rid), h
        assert h["data"]["bOffset"] == len(got) and h["data"]["fileLength"] == len(data), h
        assert h["data"]["fileToken"] == "default"
        got += block
    took = time.monotonic() - t0
    assert hashlib.sha256(got).hexdigest() == fw["sha256"]
    assert hashlib.md5(got).hexdigest() == u["sign"] or u["sign"] == fw["sha256"]
    print(f"\nMQTT block download: {len(data)} bytes in {rid} blocks of {BLOCK} in {took:.2f} s "
          f"({len(data) / took / 1e6:.2f} MB/s, one block in flight)")

    # a block past the end is cut to the file; bounds are answered with a code
    request(c, pk, dn, 900, stream, len(data) - 10, BLOCK)
    h, block = reply(c)
    assert h["code"] == 200 and block == data[-10:]
    for rid_, off, size, fid in ((901, 0, 0, 1), (902, 0, 64 * 1024 + 1, 1),
                                 (903, len(data), 10, 1)):
        request(c, pk, dn, rid_, stream, off, size, fid)
        h, _ = reply(c)
        assert h["code"] == 400 and h["id"] == str(rid_), h
    request(c, pk, dn, 904, stream + 1, 0, 10)
    h, _ = reply(c)
    assert h["code"] == 404, h
    request(c, pk, dn, 905, stream, 0, 10, file_id=2)
    h, _ = reply(c)
    assert h["code"] == 404, h
    c.publish(f"/sys/{pk}/{dn}/thing/file/download", b"{not json", qos=0)
    h, _ = reply(c)
    assert h["code"] == 400, h
    # 64 KiB is the largest block
    request(c, pk, dn, 906, stream, 0, 64 * 1024)
    h, block = reply(c)
    assert h["code"] == 200 and block == data[:64 * 1024]

    # a device with no upgrade of that stream: 404
    oc = device(broker, pk, other, made)
    request(oc, pk, other["deviceName"], 1, stream, 0, 10)
    h, _ = reply(oc)
    assert h["code"] == 404, h

    # progress and the new version: the job is done
    c.publish(f"/ota/device/progress/{pk}/{dn}",
              json.dumps({"id": 1, "params": {"step": "100", "desc": ""}}), qos=1)
    c.publish(f"/ota/device/inform/{pk}/{dn}",
              json.dumps({"id": 2, "params": {"version": "3.0"}}), qos=1)
    j = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                   lambda j: j["state"] == "done", timeout=10)
    assert j["counts"]["succeeded"] == 1
    # done: no open job, no stream
    request(c, pk, dn, 950, stream, 0, 10)
    assert reply(c)[0]["code"] in (200, 404)  # remembered for at most 5 s


def test_a_flood_of_block_requests_is_dropped_past_the_rate(broker, api, made):
    pk = api.product("ota mqtt flood")["productKey"]
    d = api.device(pk)
    dn = d["deviceName"]
    c = device(broker, pk, d, made)
    data = os.urandom(1024)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2", raw=data,
                  headers={"Content-Type": "application/octet-stream"}).json
    api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
           {"firmwareId": fw["firmwareId"], "devices": [dn], "downloadProtocol": "mqtt"}, 201)
    stream = json.loads(c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"),
                                    timeout=10).payload)["data"]["streamId"]
    before = api.metric("thingport_ota_blocks_dropped_total")
    n = 1500  # the rate is 200 a second with a burst of 200
    t0 = time.monotonic()
    for i in range(n):
        request(c, pk, dn, i, stream, 0, 16)
    answered = 0
    deadline = time.monotonic() + 15
    while answered < n and time.monotonic() < deadline:
        try:
            reply(c, timeout=2)
            answered += 1
        except Exception:
            break
    took = time.monotonic() - t0
    dropped = api.metric("thingport_ota_blocks_dropped_total") - before
    assert answered + dropped == n, (answered, dropped)
    assert dropped > 0 and answered <= 200 + 200 * took + 1, (answered, took)
