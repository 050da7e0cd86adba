"""Build a running node from its state directory: the one place parts are chosen and wired.

Which controller (by the configured kind), which board (gpiozero with the configured pin map;
``GPIOZERO_PIN_FACTORY=mock`` or an explicit factory off a Pi), which readers (camera thread,
serial devices) and which clock. Configuration is read here and passed down, never read deep
inside the parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from gate_node.clock import ClockFloor
from gate_node.decision.engine import Engine
from gate_node.downlink import Downlink
from gate_node.face.binding_report import BindingReport
from gate_node.face.camera import capture
from gate_node.face.check import FaceCheck
from gate_node.face.disputes import Disputes
from gate_node.face.embedder import EmbedProcess
from gate_node.firmware.swing import Swing
from gate_node.firmware.tripod import Tripod
from gate_node.firmware.wing import Wing
from gate_node.gpio_board import GpiozeroBoard
from gate_node.lane_driver import LaneDriver
from gate_node.ledger import Ledger
from gate_node.readers.frames import open_source
from gate_node.readers.serial_lines import SerialLineReader
from gate_node.service import CameraThread, NodeService
from gate_node.state import NodeState, NodeStateError
from gate_node.uplink import BrokerConfig, Uplink
from keys import face_embedding
from keys.clock import SYSTEM, Clock
from keys.keystore import SigningKey
from keys.logs import event

CONTROLLERS = {"tripod": Tripod, "wing": Wing, "swing": Swing}
log = logging.getLogger("gate_node")


@dataclass
class Node:
    """A running node, wired from its state directory: service, lane, ledger, link and clock.

    ``close()`` stops it in order: any grant in progress abandoned (its roll-back still goes
    out), then the link, the readers, the board, the ledger last."""

    state: NodeState
    service: NodeService
    board: GpiozeroBoard | None
    camera: CameraThread | None = None
    serial: list[SerialLineReader] = field(default_factory=list)

    def ticks_ms(self) -> int:
        return self.board.ticks_ms() if self.board else 0

    def close(self) -> None:
        self.service.driver.abandon()  # before the link stops: the rollback goes out too
        self.service.close()
        if self.service.link is not None:
            self.service.link[0].stop()
        if self.camera:
            self.camera.stop()
        for reader in self.serial:
            reader.close()
        if self.board:
            self.board.close()
        self.service.ledger.close()


def make_engine(state: NodeState, clock: Clock = SYSTEM) -> Engine:
    """The decision engine over this node's keyring, revocations, cards and ledger.

    ``clock`` is the system source (not the floor): the ledger dates passages and acks by it."""
    config = state.config
    engine = Engine(
        state.keyring,
        state.revocations,
        Ledger(state.ledger_path, config.node, clock),
        config.rules(),
        config.lane(),
        cards=state.cards,
        holder_salt=state.holder_salt,
        faces=make_face_check(state),
    )
    engine.closed = state.untrusted
    if engine.faces is not None:
        # a first-entry binding goes to the cloud, sealed, so the site's first one wins
        engine.when_face_bound = BindingReport(
            engine.ledger, config.site, config.node, lambda: state.cloud_face_key
        )
    return engine


def make_face_check(state: NodeState) -> FaceCheck | None:
    """The face check, for a lane with ``real_name_check=face`` or face settings; None for
    others (they answer ``face_unavailable`` to a face). The model is imported here, once:
    without the face extra the check exists but answers ``face_unavailable``, and the node
    runs on for QR codes and cards. With the model, embeddings are made in a helper process
    (gate_node/face/embedder.py: dlib's encoder holds the GIL, the lane loop must not wait),
    started now so its model is loaded before the first visitor."""
    config = state.config
    if config.real_name_check != "face" and config.face is None:
        return None
    settings = config.face_settings()
    model = face_embedding.load()
    disputes = None
    if settings.keep_images_days > 0 and state.unlocked:
        key = state.face_key(b"face disputes")
        disputes = Disputes(state.directory, key, settings.keep_images_days)
    return FaceCheck(
        model,
        settings,
        state.faces,
        state.face_bindings,
        # Without the node key (tests, tools) bindings live in memory only.
        on_bind=state.save_face_bindings if state.unlocked else lambda bindings: None,
        disputes=disputes,
        embedder=EmbedProcess() if model is not None else None,
    )


def raise_trust_alarm(state: NodeState, ledger: Ledger, clock: ClockFloor) -> None:
    """A state directory rolled back or replaced: one alarm into the outbox (so the cloud
    hears of it) listing what was found; refuse to serve if no downlink can mend it."""
    if not state.problems:
        return
    codes = sorted({p.code for p in state.problems})
    ledger.record_alarm(
        clock.now(), "state_untrusted", len(state.problems), problems=codes, detail=state.untrusted
    )
    event(log, "state untrusted: lane held closed", problems=codes, detail=state.untrusted)
    if any(p.fatal for p in state.problems):
        ledger.close()
        raise NodeStateError(
            f"state directory cannot be trusted ({state.untrusted}); repair it or provision "
            "the node again / 节点数据不可信，请修复或重新部署"
        )


def settle_after_power_cut(ledger: Ledger) -> int:
    """A use left open by a power cut (or kill -9): the lane relocked when the power went, so
    the passages not recorded never happened as far as the gate can know; give them back, as
    a clean stop does (LaneDriver.abandon), so the visitor is not refused as "already used".
    Returns how many passages were given back."""
    given_back = 0
    for seq, unused in ledger.unsettled():
        ledger.roll_back(seq, unused)
        given_back += unused
        event(log, "use left open at power-off given back", use=seq, unused=unused)
    return given_back


def build(
    state: NodeState,
    pin_factory: Any = None,
    with_camera: bool = True,
    serial_opener: Callable[..., Any] = serial.serial_for_url,
    node_key: SigningKey | None = None,
    clock: Clock = SYSTEM,
) -> Node:
    """The node from its state; ``pin_factory`` and ``serial_opener`` choose the hardware.

    With a broker in the configuration, ``node_key`` (the decrypted identity key) signs the
    uplink; without one the node runs alone, which it can do for days. ``clock`` is the system
    source under the node's clock floor (``keys.clock.from_environment()`` in ``gate-node run``,
    a ``ManualClock`` in tests).
    """
    config = state.config
    if node_key is not None:
        state.unlock(node_key)
    engine = make_engine(state, clock)
    ledger = engine.ledger
    floor = ClockFloor(state.clock_path, clock)
    raise_trust_alarm(state, ledger, floor)
    if config.kind != "handheld":
        settle_after_power_cut(ledger)
    board = None
    lane = None
    if config.kind != "handheld":
        assert config.pin_map is not None
        board = GpiozeroBoard(config.pin_map, pin_factory, clock)
        lane = CONTROLLERS[config.kind](board, board.ticks_ms())
    readers = [
        SerialLineReader(r["url"], r["kind"], r.get("baudrate", 9600), opener=serial_opener)
        for r in config.readers
    ]
    link = None
    if config.broker is not None:
        if node_key is None:
            raise NodeStateError("a broker is configured: the node identity key is needed")
        broker = BrokerConfig(
            host=config.broker["host"],
            port=config.broker.get("port", 1883),
            username=config.broker.get("username"),
            password=state.broker_password(),
            tls_ca=config.broker.get("tls_ca"),
            tls_cert=config.broker.get("tls_cert"),
            tls_key=config.broker.get("tls_key"),
            resend_ms=int(config.broker.get("resend_s", 30) * 1000),
        )
        uplink = Uplink(ledger, node_key, config.site, config.node, broker, state.next_session())
        link = (uplink, Downlink(state, engine, floor, uplink.request, uplink.cloud_acknowledged))
    driver = LaneDriver(lane, ledger)
    face_capture = None
    if with_camera and config.face_camera and engine.faces is not None:
        face_capture = capture(open_source(config.face_camera))
    service = NodeService(
        engine,
        driver,
        floor,
        pollers=[r.poll for r in readers],
        link=link,
        face_capture=face_capture,
    )
    driver.when_alarm = service.alarm
    node = Node(state, service, board, serial=readers)
    if link is not None:
        link[0].start()
    if with_camera and config.camera:
        node.camera = CameraThread(open_source(config.camera), service.reads)
        node.camera.start()
    return node
