"""scenic-cloud ingest and downlink: the cloud's two MQTT services, each run until SIGTERM.

Never: decide anything itself. The work is cloud/mqtt/ (ingest_worker.py, downlink_service.py)
over cloud/services/; this module loads the root key, connects, and turns a broker that never
answers into one line and exit 1 (systemd restarts the unit).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine

from cloud.cli.common import (
    DbOption,
    PassphraseFile,
    database,
    fail,
    load_root_key,
    passphrase,
    settings_from,
)
from cloud.core.config import Settings
from cloud.db import make_engine, session_factory
from cloud.mqtt.broker_client import BrokerClient
from cloud.services.cloud_keys import SECRETS, key_folder, load_face_key
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.cli_exit import EXIT_FAILED
from keys.clock import from_environment
from keys.keystore import KeyStoreError

if TYPE_CHECKING:
    from cloud.services.face_binding import BindingKeys

ConnectTimeout = Annotated[
    float, typer.Option(help="Seconds to wait for the broker at start before exit 1", min=0.1)
]


def ingest(
    worker_id: Annotated[str, typer.Option(help="Unique per worker (its MQTT session)")] = "1",
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs acks)")] = None,
    db: DbOption = None,
    batch_max: Annotated[
        int, typer.Option(help="Messages (an event or a batch) per transaction at most")
    ] = 500,
    connect_timeout: ConnectTimeout = 5.0,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Run one ingest worker until SIGTERM; run several for more throughput. 事件入库。"""
    from cloud.mqtt.ingest_worker import IngestWorker
    from cloud.services.ingest import Ingest

    def worker(settings: Settings, root: keystore.SigningKey, engine: Engine) -> BrokerClient:
        clock = from_environment()
        ingest = Ingest(
            engine,
            session_factory(engine),
            settings.site_timezone,
            clock,
            faces=binding_keys(settings, root, passphrase_file),
        )
        return IngestWorker(
            ingest,
            root,
            settings.broker_host,
            settings.broker_port,
            worker_id,
            settings.broker_username,
            settings.broker_password,
            batch_max=batch_max,
            clock=clock,
        )

    run_until_stopped(db, root_key, worker, connect_timeout, passphrase_file)


def downlink(
    root_key: Annotated[Path | None, typer.Option(help="Root key file (signs documents)")] = None,
    db: DbOption = None,
    time_every: Annotated[float, typer.Option(help="Seconds between signed time")] = 60.0,
    connect_timeout: ConnectTimeout = 5.0,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Answer gates' requests, track their links, publish signed time. 下行服务。"""
    from cloud.mqtt.downlink_service import DownlinkService

    def service(settings: Settings, root: keystore.SigningKey, engine: Engine) -> BrokerClient:
        return DownlinkService(
            session_factory(engine),
            root,
            settings.broker_host,
            settings.broker_port,
            settings.broker_username,
            settings.broker_password,
            time_every_s=time_every,
            clock=from_environment(),
            pd=data_key(settings, passphrase_file),
        )

    run_until_stopped(db, root_key, service, connect_timeout, passphrase_file)


def binding_keys(
    settings: Settings, root: keystore.SigningKey, passphrase_file: Path | None
) -> BindingKeys | None:
    """What recording gates' face bindings needs (face key, root, personal-data key), or None
    if the state folder lacks the face or data key (bindings are then stored sealed, unopened)."""
    from cloud.services.face_binding import BindingKeys

    pd = data_key(settings, passphrase_file)
    if pd is None:
        return None
    try:
        face = load_face_key(settings.state_dir, passphrase(passphrase_file))
    except KeyStoreError as exc:
        fail(str(exc))
    return BindingKeys(face, root, pd) if face is not None else None


def data_key(settings: Settings, passphrase_file: Path | None) -> PersonalData | None:
    """The personal-data key (decrypts face enrolments for a gate's faces snapshot), if the
    state folder has one; a key that cannot be opened is one line and exit 1."""
    name, what, _ = SECRETS["data"]
    path = key_folder(settings.state_dir) / name
    if not path.exists():
        return None
    try:
        return PersonalData(keystore.load_secret(path, passphrase(passphrase_file), what))
    except KeyStoreError as exc:
        fail(str(exc))


def run_until_stopped(
    db: str | None,
    root_key_file: Path | None,
    make: Callable[[Settings, keystore.SigningKey, Engine], BrokerClient],
    connect_timeout: float,
    passphrase_file: Path | None,
) -> None:
    """Run one MQTT service of the cloud until SIGTERM/SIGINT, with JSON logs. A broker that
    does not accept the connection within ``connect_timeout`` seconds is one line and exit 1
    (systemd restarts the unit); once connected, paho reconnects by itself."""
    from keys import logs

    settings = settings_from(db)
    root = load_root_key(root_key_file, settings, passphrase_file)
    with database(settings):
        engine = make_engine(settings.db_url)
    logs.setup()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = make(settings, root, engine)
    unreachable = threading.Event()

    def watch_connection() -> None:
        if not service.connected.wait(connect_timeout) and not stop.is_set():
            unreachable.set()
            stop.set()

    threading.Thread(target=watch_connection, daemon=True).start()
    try:
        service.run(stop)
    finally:
        engine.dispose()
    if unreachable.is_set():
        fail(
            f"broker {settings.broker_host}:{settings.broker_port} did not accept the "
            f"connection within {connect_timeout:g} s (not running, wrong address or "
            "credentials; see SCENIC_BROKER_HOST, SCENIC_BROKER_PORT)",
            EXIT_FAILED,
            zh="无法连接消息服务器",
        )
