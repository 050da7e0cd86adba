"""The simulated camera's presentations are ones a gate reads: every way a visitor holds up a
code decodes with the gate's own decoder, and a code that is not there reads as nothing."""

from __future__ import annotations

import pytest

from gate_node.readers.qr import QrDecoder
from simulators.camera import PRESENTATIONS, empty_frame, present

TEXT = "HC1:" + "6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSF"


@pytest.mark.parametrize("how", sorted(PRESENTATIONS))
def test_a_code_held_up_this_way_is_read_by_the_gate(how):
    assert QrDecoder().decode(present(TEXT, how)) == [TEXT]


def test_a_frame_with_nobody_in_front_of_the_camera_reads_as_nothing():
    assert QrDecoder().decode(empty_frame()) == []


def test_glare_that_washes_out_the_code_reads_as_nothing_not_as_a_wrong_code():
    from simulators.camera import ticket_frame

    assert QrDecoder().decode(ticket_frame(TEXT, module_px=5, glare=2.5)) == []
