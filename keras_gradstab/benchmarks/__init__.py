"""Benchmarks that the CLI (`keras-gradstab bench`) and `benchmarks/run.py` run,
one process per backend. Each module defines `run(quick) -> list[dict]`."""

BENCHMARKS = ("scan", "recurrent", "reste", "plstm", "generic_cell", "torch_recurrence")
