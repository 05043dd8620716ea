"""The command line and the benchmark code it runs (at toy sizes: no timing claims)."""

import json
import os

import keras
import pytest
from harness import BACKEND

from keras_gradstab import cli
from keras_gradstab.benchmarks import scan as scan_benchmark
from keras_gradstab.zoo import presets as presets_module


def test_info_lists_this_backend(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "keras_gradstab" in out and BACKEND in out


def test_unknown_benchmark_is_refused():
    with pytest.raises(SystemExit):
        cli.main(["bench", "no_such_benchmark"])


def test_scan_benchmark_runs_every_case():
    rows = scan_benchmark.run(steps=4, repeats=1)
    cases = {row["case"] for row in rows}
    assert {"kg.ops.scan", "keras.ops.scan", "keras.layers.RNN"} <= cases
    for row in rows:
        assert row["backend"] == BACKEND and row["seconds"] > 0
    table = cli.format_rows(rows)
    assert table.count("\n") == len(rows) + 1


@pytest.mark.skipif(BACKEND != "torch", reason="the generic-cell benchmark is torch-only")
def test_generic_cell_cases_compute_keras_gru():
    """The benchmark's user-cell cases (scan loop, ScanRNN, Keras-free torch loop)
    compute the loss of `keras.layers.GRU` given the same weights, and equal gradients."""
    import numpy as np
    import torch

    import keras_gradstab as kg
    from keras_gradstab.benchmarks import generic_cell

    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(3, 7, 5)).astype("float32"))
    cell = generic_cell.UserGRUCell(4)
    cell.build(x.shape[1:])
    cell.bias.assign(rng.normal(size=(12,)).astype("float32"))
    gru = keras.layers.GRU(4, return_sequences=True)
    gru.build(x.shape)
    kernel, recurrent, bias = (keras.ops.convert_to_numpy(w) for w in cell.weights)
    gru.set_weights([kernel, recurrent, np.stack([bias, np.zeros_like(bias)])])
    expected = float(keras.ops.mean(gru(x) ** 2))
    layer = kg.layers.ScanRNN(cell, return_sequences=True)
    losses = {
        "scan": lambda: generic_cell._cell_loss(cell, x),
        "ScanRNN": lambda: keras.ops.mean(layer(x) ** 2),
        "torch loop": generic_cell._torch_loop(cell, x),
    }
    grads = {}
    for name, loss in losses.items():
        value = loss()
        np.testing.assert_allclose(float(value), expected, rtol=1e-5, err_msg=name)
        grads[name] = torch.autograd.grad(value, [w.value for w in cell.weights])
    for name in ("ScanRNN", "torch loop"):
        for got, want in zip(grads[name], grads["scan"]):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6)


def tiny_preset(directory, name, units, baseline=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    return presets_module.save_preset(
        model,
        os.path.join(directory, name),
        name=name,
        task="digits (untrained)",
        metric="accuracy",
        data={"dataset": "digits", "kwargs": {"seed": 0}},
        recipe="tests/test_cli.py",
        baseline=baseline or {"none": "untrained"},
    )


def table_rows(out):
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in out.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]


class FakeClock:
    """`time.perf_counter` advancing by `step` seconds per call."""

    def __init__(self, step):
        self.step, self.now = step, 100.0

    def perf_counter(self):
        self.now += self.step
        return self.now


def test_main_job_with_no_presets(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(presets_module, "PRESETS_DIR", str(tmp_path))
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "keras_gradstab" in out and f"evaluating on backend: {BACKEND}" in out
    assert "No presets ship with this version yet." in out


def test_main_job_evaluates_every_preset(tmp_path, monkeypatch, capsys):
    baseline = {"model": "chance", "metric": "accuracy", "value": 0.1, "trained": "not trained"}
    recorded = {
        "tiny_a": tiny_preset(str(tmp_path), "tiny_a", 4, baseline)["value"],
        "tiny_b": tiny_preset(str(tmp_path), "tiny_b", 6)["value"],
    }
    monkeypatch.setattr(presets_module, "PRESETS_DIR", str(tmp_path))
    # evaluate() reads the clock when it starts and when it ends: 1.25 s per preset.
    monkeypatch.setattr(presets_module, "time", FakeClock(1.25))
    out_json = tmp_path / "rows.json"
    assert cli.main(["--json", str(out_json)]) == 0
    captured = capsys.readouterr()
    assert "2/2 done" in captured.err  # the progress bar
    rows = table_rows(captured.out)
    assert [r[0] for r in rows] == ["tiny_a", "tiny_b"]
    for row, units in zip(rows, (4, 6)):
        name, task, metric, recorded_text, measured_text, base, delta, params, seconds = row
        assert (task, metric) == ("digits (untrained)", "accuracy")
        assert recorded_text == measured_text == f"{100 * recorded[name]:.2f}%"
        assert params == f"{64 * units + units + units * 10 + 10:,}"
        assert seconds == "1.2"  # 1.25 s, printed to 0.1 s
    # The baseline, and the difference in percentage points (positive: ours better).
    assert rows[0][5:7] == ["10.00%", f"{100 * (recorded['tiny_a'] - 0.1):+.2f} pts"]
    assert rows[1][5:7] == ["none", "-"]
    assert "- tiny_a: chance: 10.00%" in captured.out
    assert "- tiny_b: no baseline (untrained)" in captured.out
    assert f"2 presets evaluated on {BACKEND} in 2.5 s; every one within" in captured.out
    saved = json.loads(out_json.read_text())
    assert [r["ok"] for r in saved] == [True, True]
    assert [r["seconds"] for r in saved] == [1.25, 1.25]
    assert saved[0]["improvement"] == pytest.approx(recorded["tiny_a"] - 0.1)


def test_a_preset_off_its_recorded_metric_fails_the_job(tmp_path, monkeypatch, capsys):
    tiny_preset(str(tmp_path), "tiny", 4)
    monkeypatch.setattr(presets_module, "PRESETS_DIR", str(tmp_path))
    recorded = presets_module.preset_metadata("tiny")["value"]
    # A re-measurement 0.6 points off the recorded value is outside the tolerance.
    monkeypatch.setattr(presets_module, "measure", lambda *a, **k: recorded - 0.006)
    assert cli.main(["zoo"]) == 1
    captured = capsys.readouterr().out
    assert table_rows(captured)[0][4] == f"{100 * (recorded - 0.006):.2f}% (off)"
    assert "NOT within the tolerance of the recorded metric (or failed): tiny" in captured


def test_zoo_command_reports_a_tampered_preset_and_fails(tmp_path, monkeypatch, capsys):
    tiny_preset(str(tmp_path), "good", 4)
    tiny_preset(str(tmp_path), "bad", 4)
    config = tmp_path / "bad" / "config.json"
    config.write_text(config.read_text().replace('"relu"', '"selu"'))
    monkeypatch.setattr(presets_module, "PRESETS_DIR", str(tmp_path))
    assert cli.main(["zoo"]) == 1
    rows = {r[0]: r for r in table_rows(capsys.readouterr().out)}
    assert rows["bad"][4].startswith("ERROR ValueError: The preset file")
    assert "config.json" in rows["bad"][4]
    assert rows["good"][4].endswith("%") and "ERROR" not in rows["good"][4]


def test_rehash_command_migrates_an_old_preset(tmp_path, capsys):
    metadata = tiny_preset(str(tmp_path), "old", 4)
    path = tmp_path / "old" / "metadata.json"
    old = dict(metadata, weights_sha256=metadata["sha256"]["model.weights.h5"])
    del old["sha256"]
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="no sha256 record"):
        presets_module.preset_metadata(tmp_path / "old")
    assert cli.main(["rehash", str(tmp_path / "old")]) == 0
    assert "old re-hashed" in capsys.readouterr().out
    assert presets_module.preset_metadata(tmp_path / "old")["sha256"] == metadata["sha256"]


def test_zoo_table_prints_bits_per_character_as_a_number():
    row = {
        "preset": "charlm",
        "task": "t",
        "metric": "bits_per_character",
        "recorded": 2.25,
        "measured": 2.2512,
        "parameters": 10,
        "seconds": 1.0,
        "ok": True,
        "error": None,
        "baseline": {
            "model": "GRU",
            "metric": "bits_per_character",
            "value": 2.3,
            "trained": "the same way",
        },
        "improvement": 0.05,
    }
    table = cli.format_zoo_table([row])
    assert "| 2.2500 | 2.2512 | 2.3000 |" in table and "%" not in table.splitlines()[2]
