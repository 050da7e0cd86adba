"""The enrolled embeddings as one float32 matrix: nearest face among 10,000 in well under 1 ms.

``face_recognition.face_distance`` computes ``np.linalg.norm(known - probe, axis=1)`` in
float64: it allocates an N x 128 difference each call (4-6 ms for 10,000). Here the squared
distance is expanded, ``|k - p|² = |k|² - 2 k·p + |p|²``; ``|p|²`` is the same for every row,
so the nearest row is the one with the largest ``k·p - |k|²/2``. ``|k|²/2`` is computed once
when the gallery is built, so a query is one float32 matrix-vector product over a C-contiguous
(N, 128) matrix (BLAS sgemv), one subtraction in place and an argmax: the matrix (5 MB at
10,000) is read once, nothing N x 128 is allocated. The distance returned is then computed
directly from the chosen row (128 subtractions), not from the expansion, whose float32
cancellation would cost ~1e-4 of accuracy for nothing (tested against face_distance).

Threads: numpy's OpenBLAS splits this product across cores (it threads a gemv from ~10,000
elements, and 10,000 x 128 is far above that). On a gate the other cores read cameras and
run the lane loop, and waking a second BLAS thread for a 0.1-0.5 ms product costs more than it
saves whenever that core is busy (bench/face.py, "1:N ... BLAS threads"): the gate runs with
``OPENBLAS_NUM_THREADS=1`` (systemd/gate-node.service).

A gallery is immutable; a changed enrolment set builds a new one (10,000 rows in a few ms).
Queries allocate only their own N-float result, so any number of threads may query one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from keys.face_embedding import EMBEDDING_DIM


class Gallery:
    def __init__(self, embeddings: Mapping[bytes, np.ndarray]) -> None:
        self.holders: list[bytes] = list(embeddings)
        self._row = {holder: i for i, holder in enumerate(self.holders)}
        matrix = np.zeros((len(self.holders), EMBEDDING_DIM), dtype=np.float32)
        for i, holder in enumerate(self.holders):
            matrix[i] = embeddings[holder]
        self._matrix = np.ascontiguousarray(matrix)
        self._half_norms = 0.5 * np.einsum("ij,ij->i", self._matrix, self._matrix)

    def __len__(self) -> int:
        return len(self.holders)

    def __contains__(self, holder: object) -> bool:
        return holder in self._row

    def nearest(self, probe: np.ndarray) -> tuple[bytes, float] | None:
        """The closest enrolment and its distance, or None for an empty gallery."""
        if not self.holders:
            return None
        p = np.ascontiguousarray(probe, dtype=np.float32).reshape(EMBEDDING_DIM)
        scores = self._matrix @ p  # k·p for every row: one sgemv
        scores -= self._half_norms  # k·p - |k|²/2: largest for the nearest row
        best = int(np.argmax(scores))
        difference = self._matrix[best] - p
        return self.holders[best], float(np.sqrt(difference @ difference))

    def distance_to(self, holder: bytes, probe: np.ndarray) -> float | None:
        """Distance to one holder's enrolment (1:1), or None if the holder is not enrolled."""
        row = self._row.get(holder)
        if row is None:
            return None
        difference = self._matrix[row] - np.asarray(probe, dtype=np.float32)
        return float(np.sqrt(difference @ difference))
