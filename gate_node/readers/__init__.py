"""Readers: whatever turns a visitor's credential into text for the decision engine.

Cameras give frames (frames.py) that qr.py decodes; code scanners, ID-card and RFID readers
give lines (serial_lines.py, hid_wedge.py) that a parser turns into a ``Credential``
(credentials.py). repeat_filter.py keeps one phone held in front of the camera from being
decided on thirty times a second.
"""
