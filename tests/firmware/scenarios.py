"""Gate controller scenarios that run unchanged under CPython (pytest) and real MicroPython.

Each ``scenario_*`` function builds a lane on a simulated board whose clock starts at
``start`` (0, and a few seconds before the ticks wrap around, so every timing is also proven
across the wrap), drives its input pins as a visitor and the mechanism would, and checks
outputs and events. No pytest here: MicroPython imports this file as it is
(tests/firmware/mp_runner.mjs). A failed check raises AssertionError with a message.
"""

from gate_node.firmware.hal import (
    DIR_IN,
    DIR_OUT,
    EV_FIRE,
    EV_FIRE_CLEARED,
    EV_FORCED,
    EV_HELD_OPEN,
    EV_OVERRIDE,
    EV_PASSAGE,
    EV_PINCH,
    EV_REVERSE,
    EV_TAILGATE,
    EV_TIMEOUT,
    ticks_add,
)
from gate_node.firmware.sim import SimBoard
from gate_node.firmware.swing import Swing
from gate_node.firmware.tripod import Tripod
from gate_node.firmware.wing import Wing

STARTS = (0, ticks_add(0, -3000))  # the second start wraps 3 s into each scenario


def events(lane):
    found = []
    code = lane.next_event()
    while code:
        found.append((code, lane.events.arg))
        code = lane.next_event()
    return found


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def expect(lane, wanted, context):
    got = events(lane)
    check(got == wanted, context + ": expected " + repr(wanted) + ", got " + repr(got))


def board(start, fire_loop=1):
    return SimBoard({"fire_loop": fire_loop}, start_ms=start)


def pulse(b, lane, name, ms=60):
    """An input held active for ``ms`` (longer than the 20 ms debounce), then released."""
    b.set(name, 1)
    b.advance(ms, lane)
    b.set(name, 0)
    b.advance(40, lane)


def walk(b, lane, near, far):
    """A person walks through a presence lane: near beam, sweep, far beam, out."""
    b.set(near, 1)
    b.advance(200, lane)
    b.set("pinch", 1)
    b.advance(300, lane)
    b.set(near, 0)
    b.set(far, 1)
    b.advance(200, lane)
    b.set("pinch", 0)
    b.advance(200, lane)
    b.set(far, 0)
    b.advance(60, lane)


# --- tripod ----------------------------------------------------------------------------------


def scenario_tripod_normal_passage(start):
    b = board(start)
    t = Tripod(b, b.now)
    b.advance(20, t)
    check(b.out("red") == 1 and b.out("green") == 0, "idle shows red")
    check(t.grant(b.now, DIR_IN, 1), "grant accepted")
    check(b.out("unlock_in") == 1 and b.out("green") == 1, "unlock pulse and green on grant")
    b.advance(250, t)
    check(b.out("unlock_in") == 0, "pulse ends after pulse_ms")
    pulse(b, t, "rotation_in")
    expect(t, [(EV_PASSAGE, DIR_IN)], "one rotation, one passage")
    check(t.locked and b.out("red") == 1, "relocked after the passage")


def scenario_tripod_timeout_relock(start):
    b = board(start)
    t = Tripod(b, b.now, timeout_ms=5000)
    t.grant(b.now, DIR_IN, 1)
    b.advance(4900, t)
    check(not t.locked and events(t) == [], "still waiting before the timeout")
    b.advance(200, t)
    expect(t, [(EV_TIMEOUT, 1)], "unused passage reported for rollback")
    check(t.locked and b.out("unlock_in") == 0, "relocked")


def scenario_tripod_group_of_five(start):
    b = board(start)
    t = Tripod(b, b.now)
    t.grant(b.now, DIR_IN, 5)
    for person in range(5):
        b.advance(1000, t)
        check(not t.locked, "open for person " + str(person + 1))
        pulse(b, t, "rotation_in")
    expect(t, [(EV_PASSAGE, DIR_IN)] * 5, "five passages")
    check(t.locked, "locked after the fifth")


def scenario_tripod_group_partly_used_times_out_with_the_rest(start):
    b = board(start)
    t = Tripod(b, b.now)
    t.grant(b.now, DIR_IN, 5)
    pulse(b, t, "rotation_in")
    pulse(b, t, "rotation_in")
    b.advance(5100, t)
    expect(t, [(EV_PASSAGE, DIR_IN), (EV_PASSAGE, DIR_IN), (EV_TIMEOUT, 3)], "3 unused")


def scenario_tripod_forced_rotation(start):
    b = board(start)
    t = Tripod(b, b.now)
    pulse(b, t, "rotation_in")
    expect(t, [(EV_FORCED, DIR_IN)], "rotation with no grant")
    check(b.out("buzzer") == 1, "alarm sounds")
    t.grant(b.now, DIR_IN, 1)
    pulse(b, t, "rotation_out")
    got = events(t)
    check(got == [(EV_FORCED, DIR_OUT)], "rotation against the grant: " + repr(got))


def scenario_tripod_bouncing_switch_counts_once(start):
    b = board(start)
    t = Tripod(b, b.now)
    t.grant(b.now, DIR_IN, 2)
    for _ in range(4):  # 5 ms chatter, shorter than the debounce
        b.set("rotation_in", 1)
        b.advance(5, t)
        b.set("rotation_in", 0)
        b.advance(5, t)
    b.set("rotation_in", 1)
    b.advance(60, t)
    b.set("rotation_in", 0)
    b.advance(60, t)
    expect(t, [(EV_PASSAGE, DIR_IN)], "chatter then one real rotation")


def scenario_tripod_fire_alarm_in_every_state(start):
    for state in ("locked", "pulsing", "waiting"):
        b = board(start)
        t = Tripod(b, b.now)
        if state != "locked":
            t.grant(b.now, DIR_IN, 2)
            b.advance(50 if state == "pulsing" else 1000, t)
        b.set("fire_loop", 0)
        b.advance(40, t)
        got = events(t)
        wanted = [(EV_FIRE, 0)] if state == "locked" else [(EV_TIMEOUT, 2), (EV_FIRE, 0)]
        check(got == wanted, state + ": " + repr(got))
        check(b.out("unlock_in") == 1 and b.out("unlock_out") == 1, state + ": arms free")
        check(not t.grant(b.now, DIR_IN, 1), state + ": no grants in fire mode")
        b.advance(60000, t)
        check(b.out("unlock_in") == 1, state + ": stays open")
        t.reset()
        b.advance(40, t)
        check(t.in_fire, state + ": reset ignored while the loop is open")
        b.set("fire_loop", 1)
        b.advance(40, t)
        check(t.in_fire, state + ": loop restored alone does not close")
        pulse(b, t, "rotation_in")
        t.reset()
        b.advance(40, t)
        expect(t, [(EV_FIRE_CLEARED, 0)], state + ": cleared after loop and reset")
        check(t.locked and b.out("unlock_in") == 0, state + ": locked again")


def scenario_tripod_powers_on_with_fire_loop_open(start):
    b = board(start, fire_loop=0)
    t = Tripod(b, b.now)
    b.advance(5, t)
    expect(t, [(EV_FIRE, 0)], "fire at first tick")
    check(b.out("unlock_in") == 1, "open from power-on")


# --- wing --------------------------------------------------------------------------------------


def scenario_wing_normal_passage(start):
    b = board(start)
    w = Wing(b, b.now)
    check(w.grant(b.now, DIR_IN, 1), "grant")
    check(b.out("open_in") == 1, "flaps open")
    b.advance(400, w)
    check(b.out("green") == 1, "green once open")
    walk(b, w, "sensor_a", "sensor_b")
    b.advance(700, w)
    expect(w, [(EV_PASSAGE, DIR_IN)], "one passage")
    check(w.closed and b.out("open_in") == 0 and b.out("red") == 1, "closed again")


def scenario_wing_outward_passage_uses_the_other_side(start):
    b = board(start)
    w = Wing(b, b.now)
    w.grant(b.now, DIR_OUT, 1)
    walk(b, w, "sensor_b", "sensor_a")
    b.advance(700, w)
    expect(w, [(EV_PASSAGE, DIR_OUT)], "one passage out")
    check(b.out("open_out") == 0 and w.closed, "closed")


def scenario_wing_timeout_closes(start):
    b = board(start)
    w = Wing(b, b.now, passage_timeout_ms=8000)
    w.grant(b.now, DIR_IN, 1)
    b.advance(7900, w)
    check(b.out("open_in") == 1, "still open")
    b.advance(800, w)
    expect(w, [(EV_TIMEOUT, 1)], "unused passage")
    check(w.closed, "closed after timeout")


def scenario_wing_group_of_five(start):
    b = board(start)
    w = Wing(b, b.now)
    w.grant(b.now, DIR_IN, 5)
    for _ in range(5):
        walk(b, w, "sensor_a", "sensor_b")
    b.advance(700, w)
    expect(w, [(EV_PASSAGE, DIR_IN)] * 5, "five passages")
    check(w.closed, "closed after the fifth")


def scenario_wing_tailgating(start):
    b = board(start)
    w = Wing(b, b.now)
    w.grant(b.now, DIR_IN, 1)
    b.set("sensor_a", 1)
    b.advance(200, w)
    b.set("sensor_a", 0)  # first person moves into the sweep
    b.set("pinch", 1)
    b.advance(100, w)
    b.set("sensor_a", 1)  # a second body right behind
    b.advance(100, w)
    expect(w, [(EV_TAILGATE, DIR_IN)], "tailgate alarm")
    b.set("pinch", 0)
    b.set("sensor_b", 1)
    b.advance(200, w)
    b.set("sensor_b", 0)
    b.advance(60, w)
    expect(w, [(EV_PASSAGE, DIR_IN)], "the granted person passes")
    check(b.out("open_in") == 0, "flaps close in front of the tailgater")


def scenario_wing_anti_pinch_during_close(start):
    b = board(start)
    w = Wing(b, b.now)
    w.grant(b.now, DIR_IN, 1)
    walk(b, w, "sensor_a", "sensor_b")
    check(b.out("open_in") == 0, "closing")
    b.advance(200, w)
    b.set("pinch", 1)  # a child steps into the sweep while the flaps travel
    b.advance(40, w)
    check(b.out("open_in") == 1, "reopened at once")
    expect(w, [(EV_PASSAGE, DIR_IN), (EV_PINCH, 0)], "pinch reported")
    b.advance(5000, w)
    check(b.out("open_in") == 1, "stays open while someone is in the sweep")
    b.set("pinch", 0)
    b.advance(40, w)
    check(b.out("open_in") == 0, "closes once clear")
    b.advance(700, w)
    check(w.closed, "closed")


def scenario_wing_never_starts_closing_on_a_person(start):
    b = board(start)
    w = Wing(b, b.now, passage_timeout_ms=2000)
    w.grant(b.now, DIR_IN, 1)
    b.set("pinch", 1)  # someone stands in the flaps and does not move
    b.advance(10000, w)
    check(b.out("open_in") == 1, "held open")
    b.set("pinch", 0)
    b.advance(700, w)
    check(w.closed, "closed once clear")


def scenario_wing_forced_entry(start):
    b = board(start)
    w = Wing(b, b.now)
    b.set("sensor_a", 1)
    b.advance(100, w)
    b.set("pinch", 1)  # climbing over closed flaps
    b.advance(100, w)
    expect(w, [(EV_FORCED, DIR_IN)], "forced entry")


def scenario_wing_reverse_direction(start):
    b = board(start)
    w = Wing(b, b.now)
    w.grant(b.now, DIR_IN, 1)
    b.set("sensor_b", 1)  # someone comes from the exit side into a lane opened inward
    b.advance(100, w)
    expect(w, [(EV_REVERSE, DIR_OUT)], "reverse")


def scenario_wing_fire_alarm_in_every_state(start):
    for state in ("closed", "open", "closing"):
        b = board(start)
        w = Wing(b, b.now)
        if state != "closed":
            w.grant(b.now, DIR_IN, 1)
            b.advance(400, w)
        if state == "closing":
            walk(b, w, "sensor_a", "sensor_b")
            b.advance(100, w)
        events(w)
        b.set("fire_loop", 0)
        b.advance(40, w)
        got = events(w)
        wanted = [(EV_TIMEOUT, 1), (EV_FIRE, 0)] if state == "open" else [(EV_FIRE, 0)]
        check(got == wanted, state + ": " + repr(got))
        check(b.out("open_in") == 1 and b.out("green") == 1, state + ": open")
        b.set("fire_loop", 1)
        b.advance(40, w)
        w.reset()
        b.advance(800, w)
        expect(w, [(EV_FIRE_CLEARED, 0)], state + ": cleared")
        check(w.closed, state + ": closed after reset")


def scenario_wing_powers_on_with_fire_loop_open(start):
    b = board(start, fire_loop=0)
    w = Wing(b, b.now)
    b.advance(5, w)
    expect(w, [(EV_FIRE, 0)], "fire at first tick")
    check(b.out("open_in") == 1, "open from power-on")


# --- swing -------------------------------------------------------------------------------------


def scenario_swing_wheelchair_passage_with_hold(start):
    b = board(start)
    s = Swing(b, b.now)
    s.grant(b.now, DIR_IN, 1)
    b.advance(1000, s)
    check(b.out("green") == 0, "leaf still travelling")
    b.advance(600, s)
    check(b.out("green") == 1, "green when fully open")
    walk(b, s, "sensor_a", "sensor_b")
    b.advance(2500, s)
    check(b.out("open_in") == 1, "held open after the passage")
    b.advance(600, s)
    check(b.out("open_in") == 0, "closing after hold_ms")
    b.advance(2100, s)
    check(s.closed, "closed")
    expect(s, [(EV_PASSAGE, DIR_IN)], "one passage")


def scenario_swing_timeout(start):
    b = board(start)
    s = Swing(b, b.now)
    s.grant(b.now, DIR_IN, 1)
    b.advance(15100, s)
    expect(s, [(EV_TIMEOUT, 1)], "15 s timeout")


def scenario_swing_held_open_alarm(start):
    b = board(start)
    s = Swing(b, b.now, passage_timeout_ms=2000)
    s.grant(b.now, DIR_IN, 1)
    b.set("pinch", 1)
    b.advance(2100, s)
    expect(s, [(EV_TIMEOUT, 1)], "timed out with someone in the sweep")
    b.advance(30100, s)
    expect(s, [(EV_HELD_OPEN, 30)], "held-open alarm")
    b.advance(60000, s)
    expect(s, [], "reported once")
    b.set("pinch", 0)
    b.advance(2100, s)
    check(s.closed, "closes once clear")


def scenario_swing_staff_override(start):
    b = board(start)
    s = Swing(b, b.now)
    b.set("override", 1)
    b.advance(40, s)
    check(s.overridden and b.out("open_in") == 1, "open on the key switch")
    walk(b, s, "sensor_a", "sensor_b")
    b.advance(60000, s)
    check(b.out("open_in") == 1, "stays open, no timeout")
    b.set("override", 0)
    b.advance(2200, s)
    check(s.closed, "closed after release")
    expect(s, [(EV_OVERRIDE, 1), (EV_OVERRIDE, 0)], "override on/off, no passages recorded")


def scenario_swing_override_ends_a_grant(start):
    b = board(start)
    s = Swing(b, b.now)
    s.grant(b.now, DIR_IN, 3)
    b.advance(1600, s)
    b.set("override", 1)
    b.advance(40, s)
    expect(s, [(EV_TIMEOUT, 3), (EV_OVERRIDE, 1)], "grant rolled back, override on")


def scenario_swing_anti_pinch_and_fire(start):
    b = board(start)
    s = Swing(b, b.now)
    s.grant(b.now, DIR_IN, 1)
    walk(b, s, "sensor_a", "sensor_b")
    b.advance(3100, s)
    b.set("pinch", 1)
    b.advance(40, s)
    check(b.out("open_in") == 1, "reopened on pinch")
    b.set("fire_loop", 0)
    b.advance(40, s)
    expect(s, [(EV_PASSAGE, DIR_IN), (EV_PINCH, 0), (EV_FIRE, 0)], "pinch then fire")
    check(not s.grant(b.now, DIR_IN, 1), "no grants in fire mode")


def scenario_swing_powers_on_with_fire_loop_open(start):
    b = board(start, fire_loop=0)
    s = Swing(b, b.now)
    b.advance(5, s)
    expect(s, [(EV_FIRE, 0)], "fire at first tick")


def names():
    return sorted(n for n in globals() if n.startswith("scenario_"))


def run_all():
    """MicroPython entry: run every scenario at every start; print PASS/FAIL lines."""
    for name in names():
        for start in STARTS:
            label = name + "@" + str(start)
            try:
                globals()[name](start)
                print("PASS " + label)
            except Exception as exc:  # report and go on: one line per scenario
                print("FAIL " + label + ": " + type(exc).__name__ + " " + str(exc))
