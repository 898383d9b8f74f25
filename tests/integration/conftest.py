"""Fixtures for the integration suite: the broker under test and the clients that drive it.

Broker under test:
  THINGPORT_BIN=/path/to/thingport        -> thingport (the spec behaviour)
  THINGPORT_BIN unset or TP_REFERENCE=mosquitto -> Mosquitto 2.0, the reference broker

A module gets one broker (`broker`, module scope). A module may override the
`broker_settings` fixture to pass extra config text or ask for persistence.
"""

from __future__ import annotations

import re
import signal
import threading
from typing import Callable, List

import pytest

import harness
import mqttraw
from apiclient import Api
from harness import BrokerProcess
from mqtt_clients import CliSub, MqttClient


# ---------------------------------------------------------------------------------------------
# pytest hooks


def pytest_addoption(parser):
    parser.addini("integration_test_timeout", "hard limit per test phase, seconds", default="40")


def pytest_report_header(config):
    if harness.IS_MOSQUITTO:
        return (f"broker under test: mosquitto reference ({harness.MOSQUITTO_BIN}); "
                "thingport_only tests are skipped")
    return (f"broker under test: thingport ({harness.THINGPORT_BIN}), "
            f"store {harness.TEST_STORE}")


def pytest_collection_modifyitems(config, items):
    if harness.TEST_STORE == "postgres":
        # Tests of the SQLite files themselves, and tests that read no identity or thing data:
        # the SQLite run covers them.
        kept = [i for i in items if i.get_closest_marker("sqlite_only") is None
                and i.get_closest_marker("store_independent") is None]
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    for item in items:
        mark = item.get_closest_marker("thingport_only")
        if mark is None:
            continue
        reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
        assert reason, f"{item.nodeid}: thingport_only needs a reason"
        if harness.IS_MOSQUITTO:
            item.add_marker(pytest.mark.skip(reason=f"mosquitto reference: {reason}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A hard per-phase limit (SIGALRM in the main thread) so a hung wait cannot hang the run;
    fixture finalizers still run and kill every process."""
    limit = int(float(item.config.getini("integration_test_timeout")))
    can_alarm = threading.current_thread() is threading.main_thread()

    def on_alarm(signum, frame):
        raise TimeoutError(f"test phase exceeded {limit}s (integration_test_timeout)")

    old = signal.signal(signal.SIGALRM, on_alarm) if can_alarm else None
    item._tp_alarm = (limit if can_alarm else 0)
    try:
        yield
    finally:
        if can_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    signal.alarm(getattr(item, "_tp_alarm", 0))
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    signal.alarm(getattr(item, "_tp_alarm", 0))
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    signal.alarm(getattr(item, "_tp_alarm", 0))
    yield
    signal.alarm(0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach what the broker wrote (stdout and stderr) to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in harness.live_brokers():
            rep.sections.append((f"{b.kind} output (pid {b.proc.pid if b.proc else '-'}, "
                                 f"port {b.port})", b.log.tail(200)))


# ---------------------------------------------------------------------------------------------
# Broker


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    """Override in a module to change its broker's config:
      "thingport_config": TOML appended to thingport's config (extra sections, e.g. [limits]),
      "mosquitto_config": lines appended to the reference's mosquitto.conf,
      "persistence": True  -- mosquitto keeps sessions across restart() (thingport always does).
    """
    return {}


@pytest.fixture(scope="module")
def broker(tmp_path_factory, broker_settings) -> BrokerProcess:
    b = BrokerProcess(tmp_path_factory.mktemp(f"{harness.BROKER_KIND}-"), **broker_settings)
    try:
        b.start()
        yield b
    finally:
        # Fails the last test's teardown if the broker crashed or did not exit 0 on SIGTERM.
        b.stop_and_check()


@pytest.fixture(scope="module")
def api(broker) -> Api:
    """The module's broker's HTTP API, with the admin token of its data dir."""
    return Api(broker)


@pytest.fixture(autouse=True)
def _broker_still_running(request):
    """After each test: the broker must still be running (a crash fails the test that caused it)."""
    yield
    if "broker" in request.fixturenames:
        request.getfixturevalue("broker").assert_alive()


# ---------------------------------------------------------------------------------------------
# Clients


@pytest.fixture
def topic(request) -> str:
    """A topic prefix unique to this test, so a module-shared broker carries no cross-talk
    (retained messages, queued sessions)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:48]  # no wildcards or "/"
    return f"it/{name}/{harness.unique_id('t')}"


@pytest.fixture
def made() -> list:
    """Clients a test makes itself (append them): closed at teardown."""
    clients: list = []
    yield clients
    for c in clients:
        c.close()


@pytest.fixture
def client_factory(broker) -> Callable[..., MqttClient]:
    """client_factory(client_id=None, clean_session=True, keepalive=60, will=None,
    connect=True) -> a paho MQTT 3.1.1 client (connected unless connect=False).
    All are closed at teardown."""
    made: List[MqttClient] = []

    def make(connect: bool = True, **kw) -> MqttClient:
        c = MqttClient(broker, **kw)
        made.append(c)
        if connect:
            c.connect()
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def raw_factory(broker) -> Callable[..., mqttraw.RawClient]:
    """raw_factory() -> an unconnected RawClient; raw_factory(client_id=..., **connect_kw) ->
    one that got CONNACK 0. All sockets are closed at teardown."""
    made: List[mqttraw.RawClient] = []

    def make(client_id=None, **kw) -> mqttraw.RawClient:
        if client_id is None and not kw:
            c = mqttraw.RawClient(broker.host, broker.port)
        else:
            c = mqttraw.connected(broker.host, broker.port,
                                  harness.unique_id("raw") if client_id is None else client_id,
                                  **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def cli_sub(broker) -> Callable[..., CliSub]:
    """cli_sub(*mosquitto_sub args) -> a running mosquitto_sub -d; killed at teardown."""
    made: List[CliSub] = []

    def make(*args: str) -> CliSub:
        s = CliSub(broker, *args)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
