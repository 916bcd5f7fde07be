"""Importing Keras (and with it TensorFlow) without TensorFlow's start-up chatter.

TensorFlow's C++ libraries write a few informational lines to the process's
stderr while they load (the absl "before InitializeLog" notice, "oneDNN custom
operations are on", CPU instruction hints), some of them whatever
``TF_CPP_MIN_LOG_LEVEL`` says. Users read them as errors. During the import
the stderr file descriptor is sent to a temporary file; afterwards every line
not known to be such a notice is written back, so real warnings (a missing
CUDA library, say) still reach the user.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile

# Substrings of the start-up lines that are dropped.
NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "cpu_feature_guard.cc",
    "To enable the following instructions:",
)


@contextlib.contextmanager
def filtered_stderr(notices: tuple[str, ...] = NOTICES):
    """Within: output to file descriptor 2 is held back; on leaving, the lines
    that contain none of ``notices`` are written to stderr."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:          # no usable stderr descriptor: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines(keepends=True)
                    if not any(n in line for n in notices)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_keras():
    """``import keras`` with TensorFlow's start-up notices filtered out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with filtered_stderr():
        import keras
    return keras
