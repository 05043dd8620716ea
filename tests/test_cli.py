"""The command line and the benchmark code it runs (at toy sizes: no timing claims)."""

import pytest
from harness import BACKEND

from keras_gradstab import cli
from keras_gradstab.benchmarks import scan as scan_benchmark


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


def test_zoo_table_runs():
    assert isinstance(cli.zoo_table(), str)
