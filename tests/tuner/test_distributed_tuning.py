"""Distributed tuning with keras-tuner's own mechanism: a chief and one worker.

Both run `keras-gradstab tune` as subprocesses; the chief serves the oracle over
gRPC on 127.0.0.1 (KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP /
KERASTUNER_ORACLE_PORT) and the worker runs every trial.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("keras_tuner", reason="the `tuner` extra is not installed")
pytest.importorskip("grpc", reason="distributed tuning needs grpcio (the `tuner` extra)")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_worker_share_one_search(tmp_path):
    port = str(free_port())
    command = [
        sys.executable,
        "-m",
        "keras_gradstab",
        "tune",
        "snn_mlp_digits",
        "--quick",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--max-train",
        "200",
    ]
    processes = {}
    for tuner_id in ("chief", "tuner0"):
        env = dict(
            os.environ,
            KERASTUNER_TUNER_ID=tuner_id,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=port,
        )
        args = command + [
            "--directory",
            str(tmp_path / tuner_id),
            "--json",
            str(tmp_path / f"{tuner_id}.json"),
        ]
        processes[tuner_id] = subprocess.Popen(
            args, env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    outputs = {}
    try:
        for tuner_id, process in processes.items():
            outputs[tuner_id] = process.communicate(timeout=400)[0]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    for tuner_id, process in processes.items():
        assert process.returncode == 0, outputs[tuner_id][-3000:]
    assert "worker tuner0: trials done" in outputs["tuner0"]
    assert not (tmp_path / "tuner0.json").exists()  # the worker has no result of its own
    result = json.loads((tmp_path / "chief.json").read_text())
    # The chief trained nothing: both trials were run by the worker and reported to it.
    assert len(result["trials"]) == 2
    assert all(t["val_loss"] is not None for t in result["trials"])
    assert result["best_val_loss"] == min(t["val_loss"] for t in result["trials"])
    worker_trials = sorted(
        p.name
        for p in (tmp_path / "tuner0" / "snn_mlp_digits").iterdir()
        if p.name.startswith("trial_")
    )
    assert worker_trials == ["trial_0", "trial_1"]
    chief_dir = tmp_path / "chief" / "snn_mlp_digits"
    assert not any(
        p.name.startswith("trial_") and (p / "checkpoint.weights.h5").exists()
        for p in chief_dir.iterdir()
    )
