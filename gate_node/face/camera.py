"""Frames for a face check from the lane's face camera (a FrameSource, gate_node/readers/frames.py).

``capture(source)`` returns a function taking up to ``n`` frames in a row, one at a time as the
check asks for them: the check (check.py) looks at each frame as it arrives (the next one is
taken and detected meanwhile) and stops taking frames once the eyes have blinked, so a visitor
who blinks early is not kept for the rest. At
30 fps five frames span ~170 ms, a blink 100-400 ms: the lane display asks the visitor to blink
as the check starts, and a site that sees "not live" too often raises ``face.frames`` (each
extra frame costs one detection, ~25-95 ms for 640x480 on x86; only one frame is embedded). A
source that runs dry (image files) gives what it had; the check then decides on fewer frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from gate_node.readers.frames import FrameSource

FaceCapture = Callable[[int], Iterator[np.ndarray]]


def capture(source: FrameSource) -> FaceCapture:
    def take(count: int) -> Iterator[np.ndarray]:
        given = 0
        for _ in range(count * 3):  # a camera may drop a frame; never loop forever
            frame = source.read()
            if frame is not None:
                yield frame
                given += 1
                if given == count:
                    return

    return take
