"""QR decode time per 640x480 frame, zxing-cpp against pyzbar, and whether each read it.

Frames come from simulators/camera.py: a day ticket on paper, on a dark-mode phone screen,
tilted with sensor noise, far away (3 px per module), and an empty frame (what the camera sees
between visitors: the common case, so its cost matters most).
"""

from __future__ import annotations

import time
from datetime import date

from bench.report import percentiles, report
from gate_node.readers.qr import decode_zbar, decode_zxing
from keys import keystore
from keys.claims import TicketClaims
from keys.ticket import issue_ticket
from simulators.camera import empty_frame, ticket_frame

ROUNDS = 200


def main() -> None:
    issuer = keystore.generate("issuer", "I1")
    text = issue_ticket(
        issuer,
        TicketClaims(
            ticket_id=bytes(8),
            product=12,
            valid_from=date(2026, 11, 24),
            valid_until=date(2026, 11, 24),
        ),
    )
    frames = {
        "paper": ticket_frame(text),
        "dark-mode screen": ticket_frame(text, invert=True),
        "tilted 35deg + noise": ticket_frame(text, angle=35, noise=10),
        "far (3 px/module)": ticket_frame(text, module_px=3),
        "empty frame": empty_frame(),
    }
    rows = []
    for name, frame in frames.items():
        for decoder_name, decode in (("zxing-cpp", decode_zxing), ("pyzbar", decode_zbar)):
            expected = [] if name == "empty frame" else [text]
            correct = decode(frame) == expected
            samples = []
            for _ in range(ROUNDS):
                start = time.perf_counter_ns()
                decode(frame)
                samples.append(time.perf_counter_ns() - start)
            rows.append(
                {
                    "frame": name,
                    "decoder": decoder_name,
                    "reads_it": correct,
                    **percentiles(samples),
                }
            )
    report(
        "qr_decode",
        f"QR decode per 640x480 grayscale frame ({ROUNDS} runs each)",
        rows,
        "reads_it for the empty frame means: correctly found nothing.",
    )


if __name__ == "__main__":
    main()
