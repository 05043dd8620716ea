"""The backend chosen when Keras's default is missing, and the one-backend installs.

`test_one_backend_install` creates a virtual environment with one backend extra
and runs the README's first example and `python -m keras_gradstab` in it, with
neither `KERAS_BACKEND` nor `keras.json`. It takes minutes, so it runs only
where `KERAS_GRADSTAB_TEST_INSTALL=1`; the jax process tests the `jax` extra and
the torch process the `torch` extra (the tensorflow one has nothing to add:
TensorFlow is Keras's default).
"""

import json
import os
import subprocess
import sys

import pytest
from harness import BACKEND

from keras_gradstab._default_backend import BACKENDS, choose, keras_json_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    "requested,from_file,installed,expected",
    [
        (None, None, ["jax", "tensorflow", "torch"], None),  # Keras's default is there
        (None, None, ["torch"], "torch"),
        (None, None, ["jax", "torch"], "jax"),
        ("", "tensorflow", ["torch"], "torch"),  # keras.json as Keras wrote it
        (None, "torch", ["jax", "torch"], None),  # keras.json's choice is installed
        (None, "numpy", ["torch"], None),  # a backend outside the three: Keras decides
        ("torch", None, ["torch"], None),
        ("numpy", None, [], None),
    ],
)
def test_choose(requested, from_file, installed, expected):
    assert choose(requested, from_file, installed) == expected


def test_choose_says_what_to_install():
    with pytest.raises(ImportError, match=r"KERAS_BACKEND=jax .*keras_gradstab\[jax\]"):
        choose("jax", None, ["torch"])
    with pytest.raises(ImportError, match=r"none is installed: pip install"):
        choose(None, None, [])


def test_keras_json_backend(tmp_path):
    assert keras_json_backend({"KERAS_HOME": str(tmp_path)}) is None
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert keras_json_backend({"KERAS_HOME": str(tmp_path)}) == "torch"
    (tmp_path / "keras.json").write_text("{not json")
    assert keras_json_backend({"KERAS_HOME": str(tmp_path)}) is None
    assert set(BACKENDS) == {"jax", "tensorflow", "torch"}


def run(args, env, check=True):
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=env["HOME"])
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.mark.skipif(
    os.environ.get("KERAS_GRADSTAB_TEST_INSTALL") != "1",
    reason="creates a virtual environment (minutes); set KERAS_GRADSTAB_TEST_INSTALL=1",
)
@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow is Keras's default")
def test_one_backend_install(tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS", "PYTHON"))}
    env.update(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / "keras_home"))
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    run([sys.executable, "-m", "venv", str(venv)], env)
    python = str(venv / "bin" / "python")
    constraints = os.path.join(ROOT, "constraints.txt")  # the versions `make test` pins
    run([python, "-m", "pip", "install", "-q", "-c", constraints, "-e", f"{ROOT}[{BACKEND}]"], env)
    installed = run([python, "-c", "import jax, tensorflow"], env, check=False)
    assert installed.returncode != 0, "the venv holds more than one backend"

    assert "usage: keras-gradstab" in run([python, "-m", "keras_gradstab", "--help"], env).stdout
    example = run(
        [
            python,
            "-c",
            (
                # The README's order: keras_gradstab first chooses the backend.
                "import json; import keras_gradstab as kg; import keras; "
                "row = kg.zoo.evaluate('snn_mlp_digits'); "
                "print(json.dumps([keras.config.backend(), row['recorded'], row['measured']]))"
            ),
        ],
        env,
    )
    backend, recorded, measured = json.loads(example.stdout.strip().splitlines()[-1])
    assert backend == BACKEND and abs(measured - recorded) <= 0.005
    main_job = run([python, "-m", "keras_gradstab"], env)
    assert f"evaluating on backend: {BACKEND}" in main_job.stdout

    other = "torch" if BACKEND == "jax" else "jax"
    missing = run(
        [python, "-m", "keras_gradstab", "--help"], dict(env, KERAS_BACKEND=other), check=False
    )
    assert missing.returncode != 0
    assert f"pip install 'keras_gradstab[{other}]'" in missing.stderr.strip().splitlines()[-1]
