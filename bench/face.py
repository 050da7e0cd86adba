"""Face at the gate: per-frame cost (HOG detection, landmarks, embedding), 1:N search, and the
QR + face decision end to end, with the Raspberry Pi 4 estimate, and how long the lane's loop
stalls while a face check runs on the face worker.

Targets (issue #15): 1:N against 10,000 enrolments under 1 ms (``face_recognition.face_distance``
takes 4-6 ms); QR + face decision under 1 s on a Pi 4-class CPU. There is no Pi here: the Pi
figure is the x86 one times ``PI4_FACTOR``, stated in the notes. Photos are the test photos
(tests/face_photos.py: scikit-image's astronaut on a 640x480 frame). Samples are single calls
after a warm-up, one visitor at a time, as a lane does it.
"""

from __future__ import annotations

import os

# One BLAS thread, as on a lane whose other cores read cameras: the 1:N product is small
# enough that threads only add scheduling noise. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np

from bench.report import percentiles, report
from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.face.check import FaceCheck
from gate_node.face.embedder import EmbedProcess
from gate_node.face.gallery import Gallery
from gate_node.face.liveness import blinked, openness
from gate_node.face.settings import FaceSettings
from gate_node.ledger import Ledger
from gate_node.readers.qr import QrDecoder
from keys import keystore
from keys.claims import TicketClaims
from keys.face_embedding import Face
from keys.face_enrolment import Enrolment, FaceEnrolments
from keys.holder import holder_ref
from keys.keyring import IssuerKey, Keyring
from keys.reasons import Reason
from keys.revocation import RevocationList
from keys.ticket import issue_ticket
from simulators.camera import ticket_frame
from tests import face_photos as photos

PI4_FACTOR = 5.0
"""How much slower a Raspberry Pi 4 (Cortex-A72, 1.5 GHz, NEON) runs dlib's single-threaded
HOG, landmark and ResNet code than one core of this x86 machine (AVX2): an estimate from clock
rate (about 2x) and SIMD width and memory bandwidth (about 2.5x); measure on a Pi to replace it."""


def timed(call: Callable[[], object], samples: int, warm: int = 3) -> dict[str, float]:
    """p50, p99, max and min in ms. On a machine shared with other work the minimum is the
    figure nearest an idle CPU (the work is deterministic; interference only adds)."""
    for _ in range(warm):
        call()
    found = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        call()
        found.append(time.perf_counter_ns() - start)
    return {**percentiles(found), "min_ms": min(found) / 1e6}


def row(case: str, stats: dict[str, float], target_ms: float | None = None, **extra: object):
    out: dict[str, object] = {"case": case, **stats, **extra}
    if target_ms is not None:
        out["target_ms"] = target_ms
        out["met"] = stats["p50_ms"] < target_ms
    return out


def per_frame(rows: list[dict[str, object]]) -> None:
    model = photos.model()
    frame = photos.astronaut_frame()
    rgb = np.ascontiguousarray(frame)
    face = model.analyse(frame, embed=False)
    assert isinstance(face, Face)
    rows.append(row("HOG detection, 640x480, full size", timed(lambda: model.detect(rgb), 20)))
    rows.append(row("HOG detection, 640x480, half size", timed(lambda: model.detect(rgb, 0.5), 20)))
    rows.append(
        row(
            "detect + 68 landmarks",
            timed(lambda: model.analyse(frame, embed=False), 20),
        )
    )
    rows.append(row("embedding of one face", timed(lambda: model.embed(frame, face.box), 20)))
    rows.append(
        row(
            "detect (full) + landmarks + embedding",
            timed(lambda: model.analyse(frame), 20),
        )
    )


def one_to_n(rows: list[dict[str, object]]) -> None:
    import face_recognition

    rng = np.random.default_rng(1)
    for count in (1_000, 10_000):
        known = rng.normal(0, 0.09, (count, 128)).astype(np.float32)
        probe = known[count // 2] + rng.normal(0, 0.01, 128).astype(np.float32)
        gallery = Gallery({i.to_bytes(8, "big"): known[i] for i in range(count)})
        as64 = known.astype(np.float64)
        rows.append(
            row(
                f"1:N float32 gallery, {count:,} enrolled",
                timed(lambda g=gallery, p=probe: g.nearest(p), 2000, 50),
                1.0,
            )
        )
        rows.append(
            row(
                f"1:N face_distance + argmin, {count:,}",
                timed(lambda k=as64, p=probe: np.argmin(face_recognition.face_distance(k, p)), 500),
            )
        )


def blink_last() -> tuple[np.ndarray, ...]:
    """The worst case for the early stop: the eyes shut only in the fifth frame."""
    frame = photos.astronaut_frame()
    return (frame, frame, frame, frame, photos.eyes_shut(frame))


def end_to_end(rows: list[dict[str, object]], tmp: str) -> None:
    from pathlib import Path

    issuer = keystore.generate("issuer", "I1")
    ring = Keyring([IssuerKey(issuer.kid, issuer.public_key)])
    salt = bytes(range(16))
    holder = holder_ref(salt, "id_card", "11010519491231002X")
    from keys.clock import ManualClock, site_today

    now = photos_now()
    today = site_today(ManualClock(now), "Asia/Shanghai")
    text = issue_ticket(
        issuer,
        TicketClaims(
            ticket_id=bytes(8),
            product=1,
            valid_from=today,
            valid_until=today + timedelta(days=364),
            entries=0,
            holder=holder,
        ),
    )
    qr_frame = ticket_frame(text)
    decoder = QrDecoder()
    enrolments = FaceEnrolments()
    enrolments.entries = {holder: Enrolment(holder, photos.embedding("astronaut"), ())}
    enrolments.seq = 1
    ledger = Ledger(Path(tmp) / "bench.sqlite", "G1")
    process = EmbedProcess()  # as the gate does it (gate_node/assembly.py)
    assert process.wait_ready(120)
    cases = [
        ("blink in frame 3 of 5, embedding in the helper process", photos.blinking(), process),
        ("blink in frame 5 of 5, embedding in the helper process", blink_last(), process),
        ("blink in frame 3 of 5, embedding inline (one core)", photos.blinking(), None),
    ]
    for name, frames, embedder in cases:
        engine = Engine(
            ring,
            RevocationList(),
            ledger,
            SiteRules(real_name_check="face"),
            LaneContext("G1", 1),
            holder_salt=salt,
            faces=FaceCheck(photos.model(), FaceSettings(), enrolments, embedder=embedder),
        )

        def decide(engine: Engine = engine, frames: tuple[np.ndarray, ...] = frames) -> None:
            (read,) = decoder.decode(qr_frame)
            pending = engine.decide(read, now)
            assert pending.reason is Reason.FACE_REQUIRED
            decision = engine.confirm_face(pending, frames, now)
            assert decision.grant, decision

        stats = timed(decide, 10, 2)
        rows.append(
            row(
                f"QR + face decision ({name})",
                stats,
                None,
                pi4_estimate_ms=round(stats["min_ms"] * PI4_FACTOR, 1),
                pi4_target_ms=1000,
                pi4_met=stats["min_ms"] * PI4_FACTOR < 1000,
            )
        )
    before_after(rows, decoder, qr_frame, engine, now, process)
    process.close()
    ledger.close()


def before_after(
    rows: list[dict[str, object]],
    decoder: QrDecoder,
    qr_frame: np.ndarray,
    engine: Engine,
    now: object,
    process: EmbedProcess,
) -> None:
    """The check as it was before issue 15's changes (every one of the 5 frames detected,
    then the most open one embedded in the same thread), written out here from the same
    model calls, against the check as it is, samples alternating so both see the same load:
    on a shared machine their ratio says more than either figure."""
    model = photos.model()
    frames = photos.blinking()
    assert engine.faces is not None
    faces = FaceCheck(model, FaceSettings(), engine.faces.enrolments, embedder=process)
    holder = next(iter(engine.faces.enrolments.entries))

    def old() -> None:
        decoder.decode(qr_frame)
        found = [model.analyse(frame, embed=False) for frame in frames]
        assert all(isinstance(face, Face) for face in found)
        seen = [face for face in found if isinstance(face, Face)]
        assert blinked([face.landmarks for face in seen])
        best = max(range(len(seen)), key=lambda i: openness(seen[i].landmarks))
        assert model.embed(frames[best], seen[best].box) is not None

    def new() -> None:
        decoder.decode(qr_frame)
        assert faces.verify(holder, frames).ok

    for call in (old, new):
        call()
    spent: dict[str, list[int]] = {"old": [], "new": []}
    for _ in range(12):
        for name, call in (("old", old), ("new", new)):
            start = time.perf_counter_ns()
            call()
            spent[name].append(time.perf_counter_ns() - start)
    for name, label in (
        ("old", "before: 5 frames always, embedding after, inline"),
        ("new", "now: stop at the blink, embedding in the helper process"),
    ):
        stats = {**percentiles(spent[name]), "min_ms": min(spent[name]) / 1e6}
        rows.append(row(f"QR + face, alternating samples, {label}", stats))
    ratio = min(spent["new"]) / min(spent["old"])
    rows.append(row("QR + face, now / before (min over min)", {"ratio": round(ratio, 3)}))


def loop_gap(rows: list[dict[str, object]]) -> None:
    """The lane loop's longest pause while a face check runs on the face worker: a thread
    ticking every 5 ms (as NodeService.step is called) records the gaps between its ticks."""
    import threading

    enrolments = FaceEnrolments()
    enrolments.entries = {b"h": Enrolment(b"h", photos.embedding("astronaut"), ())}
    process = EmbedProcess()
    assert process.wait_ready(120)
    for name, embedder in (("helper process", process), ("inline", None)):
        faces = FaceCheck(photos.model(), FaceSettings(), enrolments, embedder=embedder)
        gaps: list[int] = []
        for _ in range(5):
            done = threading.Event()
            ticks: list[int] = []

            def check(faces: FaceCheck = faces, done: threading.Event = done) -> None:
                assert faces.verify(b"h", photos.blinking()).ok
                done.set()

            worker = threading.Thread(target=check)
            worker.start()
            while not done.is_set():
                ticks.append(time.perf_counter_ns())
                time.sleep(0.005)
            worker.join()
            gaps.append(int(np.diff(ticks).max()) if len(ticks) > 1 else 0)
        rows.append(
            row(
                f"lane loop's longest tick gap during a face check, embedding {name}",
                {
                    "p50_ms": float(np.median(gaps)) / 1e6,
                    "max_ms": max(gaps) / 1e6,
                    "min_ms": min(gaps) / 1e6,
                },
            )
        )
    process.close()


def photos_now():  # the instant the tests decide at, so the ticket is valid
    from tests.conftest import TEST_AT

    return TEST_AT


def main() -> None:
    import tempfile

    rows: list[dict[str, object]] = []
    per_frame(rows)
    one_to_n(rows)
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end(rows, tmp)
    loop_gap(rows)
    report(
        "face",
        "Face at the gate: per frame, 1:N, QR + face end to end",
        rows,
        notes=f"Pi 4 estimate = x86 min x {PI4_FACTOR} (bench/face.py PI4_FACTOR: clock and "
        "SIMD, not measured on a Pi; the minimum because this machine is shared). The decision "
        "rows stop at the blink (frame 3 or 5 of 5) and make the one embedding in the helper "
        "process alongside the next frames' detection: on this 2-core machine as on a Pi 4's "
        "4 cores. dlib from the dlib-bin wheel (no OpenBLAS); a source build against "
        "libopenblas-dev makes the embedding ~6x faster (README).",
    )


if __name__ == "__main__":
    main()
