"""The Keras back-end: importing it quietly, which device runs the networks,
in what arithmetic, and on how many threads.

Keras is imported only inside these functions, so importing this module
costs nothing; the commands call :func:`import_keras` once they have checked
their inputs.

TensorFlow's C++ libraries write a few informational lines to the process's
stderr while they load (the absl "before InitializeLog" notice, "oneDNN custom
operations are on", CPU instruction hints), some of them whatever
``TF_CPP_MIN_LOG_LEVEL`` says. Users read them as errors, so during the
import the stderr file descriptor is sent to a temporary file and afterwards
every line not known to be such a notice is written back: real warnings (a
missing CUDA library, say) still reach the user.
"""
from __future__ import annotations

import contextlib
import functools
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

# --precision's choices, for training and unpicking alike, and the Keras
# dtype policy each trains under. bfloat16 keeps float32's range with an
# 8-bit mantissa: with bfloat16 dot-product instructions (x86 AVX512_BF16 or
# AMX) the networks train about 1.3x and classify about 1.8x as fast, with
# the same accuracy (BENCHMARKS.md); elsewhere it would be emulated, so
# "auto" uses it only where the CPU has them.
PRECISIONS = ("auto", "float32", "bfloat16")
TRAINING_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


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


def gpu_present() -> bool:
    """Whether the Keras backend sees a GPU (TensorFlow, JAX or PyTorch)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def describe_device(num_cores: int) -> str:
    """Where the networks run, in words: the Keras backend, and the GPU or the CPU threads."""
    import keras

    return f"{keras.backend.backend()} on " + ("the GPU" if gpu_present() else f"{num_cores} CPU threads")


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 dot products natively (Linux: the
    ``avx512_bf16`` or ``amx_bf16`` flag in /proc/cpuinfo; other systems:
    False). ``cpuinfo``: the text to read instead of /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_precision(precision: str) -> str:
    """``auto`` → ``bfloat16`` when TensorFlow runs the networks on a CPU
    with native bfloat16 (:func:`cpu_has_bfloat16`) and no GPU, else
    ``float32``; other choices of :data:`PRECISIONS` as given. A GPU gets
    float32 (its network time is already small); so do the other backends
    (JAX on a CPU was no faster in bfloat16; BENCHMARKS.md)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    import keras

    # TensorFlow's fast bfloat16 kernels are oneDNN's; without them (the user
    # set TF_ENABLE_ONEDNN_OPTS=0) bfloat16 ran 10% slower than float32
    onednn_off = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false")
    if keras.backend.backend() != "tensorflow" or onednn_off or not cpu_has_bfloat16():
        return "float32"
    return "float32" if gpu_present() else "bfloat16"


def configure(num_cores: int, seed: int | None, precision: str = "float32") -> None:
    """Threads (TensorFlow), determinism and the global dtype policy; call
    before building a network. ``precision``: ``float32``, or ``bfloat16``
    (computation in bfloat16 with float32 weights, for training on CPUs with
    bfloat16 instructions). ``seed``: seed every random generator Keras uses
    and, on a CPU, make TensorFlow's operations deterministic, so that a run
    is repeated exactly on the same CPU model."""
    import keras

    if precision not in TRAINING_POLICIES:
        raise ValueError(f"precision must be one of {', '.join(TRAINING_POLICIES)}, not {precision!r}")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(num_cores)
            tf.config.threading.set_inter_op_parallelism_threads(num_cores)
        except RuntimeError:
            pass  # already initialised in this process (tests); keep its setting
        if seed is not None and not gpu_present():
            tf.config.experimental.enable_op_determinism()
        # Several trainings in one process (--preprocessing choose) trace their own functions, and
        # TensorFlow then warns of "retracing", a cost of a second or so that users read as an error.
        tf.get_logger().setLevel("ERROR")
    keras.mixed_precision.set_global_policy(TRAINING_POLICIES[precision])
    if seed is not None:
        keras.utils.set_random_seed(seed)


def keeps_dtype_policy(fn):
    """Run ``fn`` and put back the Keras dtype policy it found: a training
    sets its precision's policy (:func:`configure`) for its own networks
    only, not for networks built after it in the same process."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import keras

        policy = keras.mixed_precision.dtype_policy()
        try:
            return fn(*args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(policy)
    return wrapper
