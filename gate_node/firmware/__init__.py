"""Gate controllers as small state machines over a tiny HAL; the same files run on MicroPython.

Import rule: these modules import only ``.hal`` (and each other), nothing else of the project,
nothing MicroPython lacks. See hal.py for the board contract and the event codes.
"""
