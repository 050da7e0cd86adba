"""A site on one machine for link tests: real Mosquitto, a migrated cloud database with the
nodes registered, node state directories pointing at the broker, an ingest worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cloud.db import make_engine, session_factory
from cloud.migrate import upgrade
from cloud.models import Device
from cloud.mqtt.downlink_service import DownlinkService
from cloud.mqtt.ingest_worker import IngestWorker
from cloud.services.ingest import Ingest
from gate_node.state import NodeState
from keys import keystore
from keys.clock import ManualClock
from keys.node_registry import sign_node_registry
from simulators.broker import PASSWORD, Broker
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

PASSPHRASE = b"a long test passphrase"


def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, step: Callable[[], None] | None = None
) -> bool:
    """Poll real I/O (a broker, another process) until ``predicate`` holds or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step:
            step()
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def broker(tmp_path) -> Iterator[Broker]:
    instance = Broker(tmp_path / "broker", users=["cloud", "G1", "G2", "G3"]).start()
    yield instance
    instance.stop()


@pytest.fixture
def cloud_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cloud.sqlite'}"
    upgrade(url)
    return url


@dataclass
class Site:
    root: keystore.SigningKey
    issuer: keystore.SigningKey
    broker: Broker
    url: str
    folder: Path
    nodes: dict[str, NodeState] = field(default_factory=dict)
    keys: dict[str, keystore.SigningKey] = field(default_factory=dict)

    def add_node(
        self, node: str, kind: str = "tripod", resend_s: float = 30, tls: dict | None = None
    ) -> NodeState:
        """A node state directory with broker settings, registered in the cloud. ``tls``
        (``tls_ca``, optionally ``tls_cert``/``tls_key``): connect to the TLS listener."""
        broker = {
            "host": "127.0.0.1",
            "port": self.broker.port,
            "username": node,
            "resend_s": resend_s,
        }
        if tls is not None:
            broker.update(tls, port=self.broker.tls_port)
        state = make_state(
            self.folder / node, self.root, self.issuer, node=node, kind=kind, broker=broker
        )
        password = state.directory / "broker.password"
        password.write_text(PASSWORD)
        password.chmod(0o600)
        key = state.identity(PASSPHRASE)
        engine = make_engine(self.url)
        with session_factory(engine).begin() as session:
            session.add(
                Device(
                    site="S1",
                    node=node,
                    kind=kind,
                    zone=1,
                    public_key=keystore.raw_public(key.public_key),
                )
            )
        engine.dispose()
        self.nodes[node], self.keys[node] = state, key
        self._publish_registry()
        return NodeState.open(state.directory)

    def _publish_registry(self) -> None:
        raw = sign_node_registry(
            self.root,
            site="S1",
            seq=len(self.keys),
            nodes={n: k.public_key for n, k in self.keys.items()},
        )
        for state in self.nodes.values():
            (state.directory / "nodes.cose").write_bytes(raw)


@pytest.fixture
def site(tmp_path, root_key, issuer_key, broker, cloud_url) -> Site:
    return Site(root_key, issuer_key, broker, cloud_url, tmp_path / "nodes")


class RunningWorker:
    def __init__(self, site: Site, worker_id: str = "w1", faces: Any = None) -> None:
        """``faces``: the ingest's ``BindingKeys`` (None: face bindings stay unopened)."""
        engine = make_engine(site.url)
        self.engine = engine
        ingest = Ingest(
            engine, session_factory(engine), "Asia/Shanghai", ManualClock(TEST_AT), faces=faces
        )
        self.worker = IngestWorker(
            ingest,
            site.root,
            "127.0.0.1",
            site.broker.port,
            worker_id,
            username="cloud",
            password=PASSWORD,
        )
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop_event,), daemon=True)
        self.thread.start()
        assert self.worker.wait_connected(), "ingest worker could not connect"

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)
        self.engine.dispose()


@pytest.fixture
def worker(site) -> Iterator[RunningWorker]:
    running = RunningWorker(site)
    yield running
    running.stop()


@pytest.fixture
def service(site) -> Iterator[DownlinkService]:
    """The cloud's downlink service on the site's broker, stepping in a thread; its clock
    stands at ``TEST_AT`` (time documents are published when a test asks)."""
    engine = make_engine(site.url)
    running = DownlinkService(
        session_factory(engine),
        site.root,
        "127.0.0.1",
        site.broker.port,
        "cloud",
        PASSWORD,
        time_every_s=3600,
        clock=ManualClock(TEST_AT),
    )
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    assert running.connected.wait(10)
    yield running
    stop.set()
    thread.join(10)
    engine.dispose()
