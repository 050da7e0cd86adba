"""Face at the gate: per-frame cost (HOG detection, landmarks, embedding), 1:N search, and the
QR + face decision end to end, with the Raspberry Pi 4 estimate, and how long the lane's loop
stalls while a face check runs on the face worker.

Targets (issue #15): 1:N against 10,000 enrolments under 1 ms (``face_recognition.face_distance``
takes 4-6 ms); QR + face decision under 1 s on a Pi 4-class CPU. There is no Pi here: the Pi
figure is estimated from the x86 one with the factors below, stated in the notes. Photos are
the test photos (tests/face_photos.py: scikit-image's astronaut on a 640x480 frame). Samples
are single calls after a warm-up, one visitor at a time, as a lane does it.

Which dlib ran matters more than anything else here, so it is recorded (version, BLAS, SIMD)
and names the results: ``face.json`` for the ``dlib-bin`` wheel (no BLAS: what CI and ``make
test`` use), ``face_openblas.json`` for dlib built against OpenBLAS (``make
bench-face-openblas``: what the Pi image runs, README "dlib with OpenBLAS"). The Pi 4 verdict
is read off the OpenBLAS build.
"""

from __future__ import annotations

import os

# One BLAS thread, as on a lane whose other cores read cameras (systemd/gate-node.service sets
# the same): set before numpy and dlib load OpenBLAS. The 1:N rows also measure 2 threads, in a
# child process of their own.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

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

PI4_FACTOR_CPU = 5.0
"""How much slower one core of a Raspberry Pi 4 runs everything but the embedding (dlib's HOG
detector and 68-point landmark fit, zxing's QR decoder, the Python around them) than one vCPU
of this machine. The Pi 4: Cortex-A72, 1.5 GHz (1.8 GHz on boards from 2020 on), 3-wide
out-of-order, 128-bit NEON, 1 MB L2 shared by 4 cores, no L3, LPDDR4. Here: AMD EPYC under
KVM, AVX2 and FMA (no AVX-512), 512 KB L2 per core, 8 MB L3, 2.0 GHz nominal (boost not
reported). About 1.5-2x from the clock, 1.5-2x from work done per clock (a wider core, bigger
caches), and dlib's HOG features use 256-bit AVX here (``USE_AVX_INSTRUCTIONS``, both builds)
against 128-bit NEON there: 4-6x, 5 taken. The earlier single factor of 5 was this one,
applied to the whole decision. It holds for this vCPU running at its usual speed; this VM's
per-core speed moves ~3x over a day (``cpu_reference``), and a figure taken while it is slow
makes the estimate pessimistic by as much."""

PI4_FACTOR_BLAS = 8.0
"""How much slower a Pi 4 core computes the embedding: dlib's ResNet (29 convolutions on a
150x150 crop) is dense float32 multiply-add, as matrix products in OpenBLAS (the OpenBLAS
build) or in dlib's own AVX loops (dlib-bin). That work scales with SIMD width and FMA units
more than anything: a Zen core issues two 256-bit FMAs a cycle (32 float32 flops) at ~3 GHz,
an A72 at most two 128-bit ones (16) at 1.5 GHz, so ~4x at peak per cycle x clock, and
measured large matrix products are further apart still (High-Performance Linpack: ~8 GFLOPS on
all four cores of a Pi 4 with OpenBLAS, ~2 per core, against ~30-40 on one Zen 2 core): the
Pi's memory (one 32-bit LPDDR4 channel) starves its cores. dlib's layers are small products
where x86 reaches less of its peak, which narrows the gap: 8 is taken, above the 5 used for
the rest. Neither factor is measured on a Pi: each decision row also states
``pi4_factor_at_1s``, the single factor at which it would take 1 s, so the room left can be
read without trusting either."""

SAMPLES_1N = 2000


def dlib_build() -> dict[str, Any]:
    """What the figures were measured on: dlib's version and build switches, and the BLAS
    library the process loaded (from /proc/self/maps)."""
    import dlib

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if ".so" in line}
        # the system BLAS dlib links (numpy's and OpenCV's own copies sit in site-packages)
        found = sorted(
            path
            for path in paths
            if "site-packages" not in path
            and any(name in os.path.basename(path) for name in ("blas", "mkl", "blis"))
        )
        blas = ", ".join(found) or "none (dlib's own matrix loops)"
    except OSError:
        blas = "unknown"
    return {
        "version": dlib.__version__,
        "DLIB_USE_BLAS": bool(dlib.DLIB_USE_BLAS),
        "DLIB_USE_LAPACK": bool(dlib.DLIB_USE_LAPACK),
        "USE_AVX_INSTRUCTIONS": bool(dlib.USE_AVX_INSTRUCTIONS),
        "USE_NEON_INSTRUCTIONS": bool(dlib.USE_NEON_INSTRUCTIONS),
        "blas_library": blas,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def cpu_reference() -> dict[str, float]:
    """How fast this vCPU ran during the run, by two fixed loads timed here: 3 million Python
    additions (CPython's own speed: pyenv builds without PGO run it ~2x slower than Debian's
    python3) and one 640x480 HOG detection of the test frame. This machine is a shared VM
    whose per-core speed moves ~3x over a day (detection min 24 ms at its quietest recorded
    run, 77-95 ms on others): the Pi estimate is only as good as the x86 figure it scales,
    so every result file says which speed it was taken at."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    model = photos.model()
    rgb = np.ascontiguousarray(photos.astronaut_frame())
    detection = timed(lambda: model.detect(rgb), 10)["min_ms"]
    return {
        "python_3m_additions_ms": round(best * 1e3, 1),
        "hog_640x480_min_ms": round(detection, 1),
    }


def pi4_estimate(row_min_ms: float, embedding_min_ms: float) -> dict[str, object]:
    """The Pi 4 figure for one decision row: the whole row at the CPU factor, plus the one
    embedding's extra at the BLAS factor, counted as if it lay wholly on the critical path (on
    the 2 cores here the helper process hides part of it; a Pi's 4 cores hide more): an upper
    estimate for every row."""
    estimate = row_min_ms * PI4_FACTOR_CPU + embedding_min_ms * (PI4_FACTOR_BLAS - PI4_FACTOR_CPU)
    return {
        "pi4_estimate_ms": round(estimate, 1),
        "pi4_target_ms": 1000,
        "pi4_met": estimate < 1000,
        "pi4_factor_at_1s": round(1000 / row_min_ms, 1),
    }


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


def per_frame(rows: list[dict[str, object]]) -> float:
    """Each step on one frame; returns the embedding's minimum (ms) for the Pi estimate."""
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
    embedding = timed(lambda: model.embed(frame, face.box), 20)
    rows.append(row("embedding of one face", embedding))
    rows.append(
        row(
            "detect (full) + landmarks + embedding",
            timed(lambda: model.analyse(frame), 20),
        )
    )
    return embedding["min_ms"]


def _nearest_before(matrix: np.ndarray, norms: np.ndarray, probe: np.ndarray) -> int:
    """Gallery.nearest as it was before (three N-float temporaries, an argmin, the distance
    from the expansion), for the before/after rows."""
    squared = norms - 2.0 * (matrix @ probe) + float(probe @ probe)
    best = int(np.argmin(squared))
    np.sqrt(max(float(squared[best]), 0.0))
    return best


def _one_to_n_rows(threads: int) -> list[dict[str, object]]:
    """In a child process started with OPENBLAS_NUM_THREADS=threads (numpy's OpenBLAS reads
    it once, when numpy is imported)."""
    import face_recognition

    assert os.environ.get("OPENBLAS_NUM_THREADS") == str(threads)
    rng = np.random.default_rng(1)
    out = []
    for count in (1_000, 10_000):
        known = rng.normal(0, 0.09, (count, 128)).astype(np.float32)
        probe = known[count // 2] + rng.normal(0, 0.01, 128).astype(np.float32)
        gallery = Gallery({i.to_bytes(8, "big"): known[i] for i in range(count)})
        norms = np.einsum("ij,ij->i", known, known)
        calls: dict[str, Callable[[], object]] = {
            "now": lambda g=gallery, p=probe: g.nearest(p),
            "before": lambda k=known, n=norms, p=probe: _nearest_before(k, n, p),
        }
        spent: dict[str, list[int]] = {name: [] for name in calls}
        for call in calls.values():
            for _ in range(50):
                call()
        for _ in range(SAMPLES_1N):  # alternating, so both see the same load
            for name, call in calls.items():
                start = time.perf_counter_ns()
                call()
                spent[name].append(time.perf_counter_ns() - start)
        for name, found in spent.items():
            stats = {**percentiles(found), "min_ms": min(found) / 1e6}
            case = f"1:N float32 gallery ({name}), {count:,} enrolled, BLAS threads {threads}"
            out.append(row(case, stats, 1.0 if name == "now" else None))
        if count == 10_000:
            out.append(_cpu_per_query(gallery, probe, threads))
        if threads == 1:
            as64 = known.astype(np.float64)

            def reference(k: np.ndarray = as64, p: np.ndarray = probe) -> int:
                return int(np.argmin(face_recognition.face_distance(k, p)))

            out.append(row(f"1:N face_distance + argmin, {count:,}", timed(reference, 500)))
    return out


def _cpu_per_query(gallery: Gallery, probe: np.ndarray, threads: int) -> dict[str, object]:
    """CPU time the process spends per query when queries come 0.2 s apart, as visitors do:
    OpenBLAS's second thread keeps spinning for a while after each product, waiting for
    more work (a core taken from the cameras and the lane loop)."""
    queries = 10
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(queries):
        gallery.nearest(probe)
        time.sleep(0.2)
    used = (time.process_time() - cpu) / queries
    return {
        "case": f"1:N 10,000: CPU per query, queries 0.2 s apart, BLAS threads {threads}",
        "cpu_ms_per_query": round(used * 1e3, 2),
        "wall_ms_per_query": round((time.perf_counter() - wall) / queries * 1e3, 1),
    }


def one_to_n(rows: list[dict[str, object]]) -> None:
    """The gallery with numpy's OpenBLAS on 1 thread (the gate's setting) and on 2 (its
    default on this 2-core machine), each in a fresh process."""
    context = multiprocessing.get_context("spawn")
    for threads in (1, 2):
        os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
        try:
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                rows.extend(pool.submit(_one_to_n_rows, threads).result())
        finally:
            os.environ["OPENBLAS_NUM_THREADS"] = "1"


def blink_last() -> tuple[np.ndarray, ...]:
    """The worst case for the early stop: the eyes shut only in the fifth frame."""
    frame = photos.astronaut_frame()
    return (frame, frame, frame, frame, photos.eyes_shut(frame))


def end_to_end(rows: list[dict[str, object]], tmp: str, embedding_ms: float) -> None:
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

        stats = timed(decide, 20, 2)
        rows.append(
            row(
                f"QR + face decision ({name})",
                stats,
                None,
                **pi4_estimate(stats["min_ms"], embedding_ms),
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
    """Three ways of making the same check, samples alternating so all see the same load (on
    a shared machine their ratios say more than any one figure): as before issue 15's speed
    work (every one of the 5 frames detected, then the most open one embedded in the same
    thread, written out here from the same model calls); one frame at a time (stop at the
    blink, embedding in the helper process: lookahead 0); and as the gate does it now (the
    next frame detected on a second thread meanwhile: lookahead 1)."""
    model = photos.model()
    frames = photos.blinking()
    assert engine.faces is not None
    enrolments = engine.faces.enrolments
    holder = next(iter(enrolments.entries))
    checks = {
        ahead: FaceCheck(model, FaceSettings(), enrolments, embedder=process, lookahead=ahead)
        for ahead in (0, 1)
    }

    def old() -> None:
        decoder.decode(qr_frame)
        found = [model.analyse(frame, embed=False) for frame in frames]
        assert all(isinstance(face, Face) for face in found)
        seen = [face for face in found if isinstance(face, Face)]
        assert blinked([face.landmarks for face in seen])
        best = max(range(len(seen)), key=lambda i: openness(seen[i].landmarks))
        assert model.embed(frames[best], seen[best].box) is not None

    def one_at_a_time() -> None:
        decoder.decode(qr_frame)
        assert checks[0].verify(holder, frames).ok

    def lookahead() -> None:
        decoder.decode(qr_frame)
        assert checks[1].verify(holder, frames).ok

    calls = {"old": old, "seq": one_at_a_time, "ahead": lookahead}
    for call in calls.values():
        call()
    spent: dict[str, list[int]] = {name: [] for name in calls}
    for _ in range(12):
        for name, call in calls.items():
            start = time.perf_counter_ns()
            call()
            spent[name].append(time.perf_counter_ns() - start)
    for name, label in (
        ("old", "before: 5 frames always, embedding after, inline"),
        ("seq", "stop at the blink, embedding in the helper process, one frame at a time"),
        ("ahead", "now: the same, the next frame detected meanwhile on a second thread"),
    ):
        stats = {**percentiles(spent[name]), "min_ms": min(spent[name]) / 1e6}
        rows.append(row(f"QR + face, alternating samples, {label}", stats))
    for name, base in (("seq", "old"), ("ahead", "old"), ("ahead", "seq")):
        ratio = min(spent[name]) / min(spent[base])
        rows.append(row(f"QR + face, {name} / {base} (min over min)", {"ratio": round(ratio, 3)}))


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


def results_name(build: dict[str, Any]) -> str:
    """face.json for dlib-bin (no BLAS), face_openblas.json for a build against OpenBLAS."""
    return "face_openblas" if build["DLIB_USE_BLAS"] else "face"


def main() -> None:
    import tempfile

    build = dlib_build()
    load_before = os.getloadavg()
    speed = cpu_reference()
    rows: list[dict[str, object]] = []
    embedding_ms = per_frame(rows)
    one_to_n(rows)
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end(rows, tmp, embedding_ms)
    loop_gap(rows)
    load_after = os.getloadavg()
    blas = "OpenBLAS" if build["DLIB_USE_BLAS"] else "no BLAS"
    report(
        results_name(build),
        f"Face at the gate: per frame, 1:N, QR + face end to end (dlib {build['version']}, {blas})",
        rows,
        notes=f"dlib {build['version']}: DLIB_USE_BLAS {build['DLIB_USE_BLAS']}, "
        f"USE_AVX_INSTRUCTIONS {build['USE_AVX_INSTRUCTIONS']}, BLAS library "
        f"{build['blas_library']}, OPENBLAS_NUM_THREADS {build['OPENBLAS_NUM_THREADS']}. "
        f"Pi 4 estimate = decision min x {PI4_FACTOR_CPU} + embedding min x "
        f"{PI4_FACTOR_BLAS - PI4_FACTOR_CPU:g} more (the embedding at x{PI4_FACTOR_BLAS:g}: "
        "bench/face.py PI4_FACTOR_CPU, PI4_FACTOR_BLAS; not measured on a Pi); "
        "pi4_factor_at_1s is the single factor that would make the row 1 s. Minimums because "
        "this machine is shared (load average 1/5 min: "
        f"{load_before[0]:.1f}/{load_before[1]:.1f} before, "
        f"{load_after[0]:.1f}/{load_after[1]:.1f} after; CPU reference: 3M Python "
        f"additions {speed['python_3m_additions_ms']} ms, one HOG detection "
        f"{speed['hog_640x480_min_ms']} ms). The decision rows stop at the "
        "blink (frame 3 or 5 of 5) and make the one embedding in the helper process "
        "alongside the next frames' detection. The Pi image runs dlib built against OpenBLAS "
        "(make bench-face-openblas writes face_openblas.json); make test and CI run dlib-bin "
        "(face.json).",
        extra={
            "dlib": build,
            "load_average": {"before": load_before, "after": load_after},
            "cpu_reference": speed,
        },
    )


if __name__ == "__main__":
    main()
