"""Face at the gate (人脸识别): 1:1 against a real-name ticket's holder, 1:N for annual passes.

Stages are modules: ``settings`` (the site's thresholds), ``liveness`` (a blink across the
frames), ``gallery`` (enrolled embeddings as one float32 matrix, nearest in well under a
millisecond for 10,000), ``vault`` (enrolments and first-entry bindings encrypted at rest with
a key from the node's identity), ``disputes`` (face images kept only when the operator enables
it, with a retention limit) and ``check`` (one entry point: frames in, a reason out). The
detector and encoder themselves are keys/face_embedding.py, shared with the cloud's enrolment.
Nothing here imports the face model at import time: without the ``face`` extra the node runs and
answers ``face_unavailable``.
"""
