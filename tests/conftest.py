"""One pytest process per backend: the backend comes from KERAS_BACKEND.

Never call keras.config.set_backend in a test: it reloads Keras and unloads the
library's registered classes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One compute thread per process: the tests use tiny tensors, `make test` runs the
# three backends' processes side by side on two cores, and oversubscribed
# intra-op threads that wait on each other are what makes a loaded machine slow.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
# On a GPU, JAX computes float32 matrix products in TF32 by default (a 10-bit
# mantissa): the pLSTM parallel form then misses its float64 NumPy references.
# The tests check the math, so they ask for full float32.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# torch.compile (jit_compile=True on torch) compiles in one process, not a pool of
# workers competing with the other backends' processes for the two cores.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

if os.environ.get("KERAS_BACKEND") == "torch":
    # torch before tensorflow when both are installed (shared-library clashes).
    import torch

    torch.set_num_threads(1)

if os.environ.get("KERAS_BACKEND") == "tensorflow":
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.config.backend()}"


@pytest.fixture(autouse=True)
def _no_broadcasting_products(request):
    """On TensorFlow, fails a test whose code runs a broadcasting batch matmul.

    Such products reach a oneDNN kernel that is wrong on some CPUs (see
    `keras_gradstab.ops.matmul`); the library writes them with that helper.
    `KERAS_GRADSTAB_PRODUCT_LOG=FILE` appends them to FILE instead of failing.
    """
    if keras.config.backend() != "tensorflow" or request.node.get_closest_marker(
        "broadcasting_products"
    ):
        yield
        return
    from product_guard import record_products

    with record_products() as found:
        yield
    if not found:
        return
    lines = sorted({f"{site}: {problem}" for problem, site in found})
    log = os.environ.get("KERAS_GRADSTAB_PRODUCT_LOG")
    if log:
        with open(log, "a") as f:
            f.writelines(f"{request.node.nodeid} | {line}\n" for line in lines)
        return
    pytest.fail(
        "broadcasting batch matmul on TensorFlow (write it with "
        "keras_gradstab.ops.matmul):\n" + "\n".join(lines),
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # free_memory=False: no gc.collect() per test (0.3 s each on jax).
    keras.utils.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


# The fast tier (`make test-fast`, `pytest -m "not slow"`) leaves out the tests
# marked `slow`: those that train, compile large models, start subprocesses or
# build the site. A test is slow if it carries `@pytest.mark.slow` or lies under
# one of these paths (relative to tests/); `make test` runs everything.
SLOW_PATHS = (
    "tutorials/",
    "zoo/",
    "tuner/",
    "test_cross_backend.py",
    "docs/test_docs_render.py",
    "layers/test_plstm_layers.py",
    "layers/test_plstm_vision.py",
)
_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = os.path.relpath(str(item.path), _TESTS_DIR).replace(os.sep, "/")
        if rel.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)
