"""Serial and keyboard-wedge readers turn lines into credentials, refusing misreads at once."""

from __future__ import annotations

import pytest
import serial

from gate_node.readers.credentials import (
    Credential,
    UnreadableCredential,
    parse_id_card,
    parse_rfid,
)
from gate_node.readers.hid_wedge import KEY_ENTER, KEY_LEFTSHIFT, KeyDecoder
from gate_node.readers.repeat_filter import RepeatFilter
from gate_node.readers.serial_lines import SerialLineReader

VALID_ID = "11010519491231002X"  # the standard's own example number


def test_a_valid_id_number_is_read_with_its_check_character():
    assert parse_id_card(VALID_ID.lower()) == Credential("id_card", VALID_ID)


@pytest.mark.parametrize(
    "misread", ["110105194912310021", "1101051949123100", "11010519491231002Y"]
)
def test_a_misread_id_number_is_refused_at_the_reader(misread):
    with pytest.raises(UnreadableCredential):
        parse_id_card(misread)


def test_id_numbers_never_appear_whole_in_logs():
    assert VALID_ID not in repr(parse_id_card(VALID_ID))


@pytest.mark.parametrize(
    "raw", ["04a1b2c3", "04:A1:B2:C3:D4:E5:F6", "04 a1 b2 c3 d4 e5 f6 07 08 09"]
)
def test_rfid_uids_are_normalised(raw):
    assert parse_rfid(raw).value == raw.upper().replace(":", "").replace(" ", "")


def test_a_short_uid_is_refused():
    with pytest.raises(UnreadableCredential):
        parse_rfid("04A1B2")


def _loop_port():
    return serial.serial_for_url("loop://", timeout=0)


def test_serial_scanner_lines_become_credentials_across_partial_reads():
    port = _loop_port()
    reader = SerialLineReader("loop://", "qr", opener=lambda *a, **k: port)
    port.write(b"J1ABC")
    assert reader.poll() == []  # no line end yet
    port.write(b"DEF\r\nJ1XYZ\n")
    assert reader.poll() == [Credential("qr", "J1ABCDEF"), Credential("qr", "J1XYZ")]


def test_serial_id_reader_reports_misreads_as_unreadable():
    port = _loop_port()
    reader = SerialLineReader("loop://", "id_card", opener=lambda *a, **k: port)
    port.write(f"{VALID_ID}\r\n110105194912310021\r\n".encode())
    good, bad = reader.poll()
    assert good == Credential("id_card", VALID_ID) and isinstance(bad, UnreadableCredential)


def test_a_stuck_scanner_cannot_grow_memory():
    port = _loop_port()
    reader = SerialLineReader("loop://", "qr", opener=lambda *a, **k: port)
    port.write(b"A" * 2000)  # loop:// holds 4096 bytes; MAX_LINE is 1024
    (problem,) = reader.poll()
    assert isinstance(problem, UnreadableCredential)


def test_keyboard_wedge_keys_decode_to_the_scanned_text():
    decoder = KeyDecoder()
    typed = [
        (KEY_LEFTSHIFT, 1),
        (36, 1),
        (36, 0),
        (KEY_LEFTSHIFT, 0),
        (2, 1),
        (2, 0),
        (KEY_LEFTSHIFT, 1),
        (5, 1),
        (5, 0),
        (39, 1),
        (39, 0),
        (KEY_LEFTSHIFT, 0),
        (52, 1),
        (52, 0),
    ]
    assert [decoder.feed(code, value) for code, value in typed] == [None] * len(typed)
    assert decoder.feed(KEY_ENTER, 1) == "J1$:."


def test_a_code_held_in_front_of_the_camera_is_decided_once():
    repeats = RepeatFilter(hold_s=3.0)
    assert repeats.fresh("J1A", 0.0)
    assert not any(repeats.fresh("J1A", t / 10) for t in range(1, 60))  # 6 s held in view
    assert repeats.fresh("J1B", 6.0)
    assert repeats.fresh("J1A", 9.5)  # away for 3.5 s, shown again
