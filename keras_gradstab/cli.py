"""`keras-gradstab` / `python -m keras_gradstab`.

keras-gradstab [--bench] [--json FILE]
                               # the main job: versions, then every preset evaluated
                               # on the current backend (KERAS_BACKEND), as a table;
                               # --bench adds the quick scan benchmark per backend
keras-gradstab info            # installed backends and versions
keras-gradstab zoo [PRESET ...] [--json FILE]
                               # the preset table only
keras-gradstab bench [--full] [--backend B ...] [--json FILE]
keras-gradstab rehash DIRECTORY [...]
                               # records the sha256 of every file of a preset
                               # directory in its metadata (migrates old presets)
keras-gradstab tune PRESET [--trials N] [--epochs E] [--quick] [--json FILE]
                               # keras-tuner RandomSearch on a preset's task
"""

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time

BACKENDS = ("jax", "tensorflow", "torch")
_DISTRIBUTIONS = {
    "keras": ("keras",),
    "jax": ("jax", "jaxlib"),
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "torch": ("torch",),
}


def installed_backends():
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def _version(names):
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def info():
    from keras_gradstab.version import __version__

    print(f"keras_gradstab {__version__}, Python {sys.version.split()[0]}")
    for name, dists in _DISTRIBUTIONS.items():
        versions = [f"{d} {_version((d,))}" for d in dists if _version((d,))]
        print(f"  {name:<11} {', '.join(versions) if versions else 'not installed'}")
    print(f"  backends installed: {', '.join(installed_backends()) or 'none'}")


def _bench_in_process(names, quick):

    rows = []
    for name in names:
        module = importlib.import_module(f"keras_gradstab.benchmarks.{name}")
        rows.extend(module.run(quick=quick))
    return rows


def bench(backends, names, quick):
    """Runs each benchmark in one fresh process per backend; returns all rows."""
    rows = []
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, "-m", "keras_gradstab", "_bench-worker", *names]
        if quick:
            cmd.append("--quick")
        print(f"[{backend}] running {', '.join(names)} ...", flush=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("ROWS ")]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"benchmark failed on {backend}")
        rows.extend(json.loads(lines[-1][5:]))
    return rows


def _format_number(key, value):
    """Seconds to 4 decimals, ratios (`vs ...`, `... / ...`) with an x, overheads
    as percentages, anything else (a load average) to 2 decimals."""
    if "seconds" in key:
        return f"{value:.4f}"
    if key.startswith("vs ") or " / " in key:
        return f"{value:.2f}x"
    if "overhead" in key:
        return f"{100 * value:+.1f}%"
    return f"{value:.2f}"


def format_rows(rows):
    header = [
        "benchmark",
        "backend",
        "case",
        "shape",
        "seconds",
        "vs keras.layers.RNN",
        "vs keras.ops.scan",
    ]
    # Ratio columns that some benchmarks add beyond the common ones.
    header += [k for k in dict.fromkeys(k for row in rows for k in row) if k not in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = []
        for key in header:
            value = row.get(key, "")
            if isinstance(value, float):
                value = _format_number(key, value)
            cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _progress(done, total, label, stream, width=24):
    filled = width * done // max(total, 1)
    line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
    if stream.isatty():
        stream.write("\r" + line.ljust(78) + ("\n" if done == total else ""))
    else:
        stream.write(line + "\n")
    stream.flush()


def evaluate_presets(names=None, stream=None):
    """Evaluates presets on the current backend, drawing a progress bar on `stream`.

    Returns one row per preset: `zoo.evaluate`'s dict plus `ok` (within the
    tolerance of the recorded metric) and `error` (the message if it failed).
    """
    from keras_gradstab import zoo

    stream = sys.stderr if stream is None else stream
    names = zoo.list_presets() if names is None else list(names)
    rows = []
    for i, name in enumerate(names):
        _progress(i, len(names), f"evaluating {name}", stream)
        start = time.perf_counter()
        try:
            row = zoo.evaluate(name)
            row["ok"] = zoo.within_tolerance(row["metric"], row["measured"], row["recorded"])
            row["error"] = None
        except Exception as e:  # one broken preset must not hide the others
            row = {
                "preset": name,
                "task": "",
                "metric": "",
                "recorded": None,
                "measured": None,
                "baseline": None,
                "improvement": None,
                "parameters": None,
                "ok": False,
                "seconds": time.perf_counter() - start,
                "error": f"{type(e).__name__}: {e}",
            }
        rows.append(row)
    if names:
        _progress(len(names), len(names), "done", stream)
    return rows


def _baseline_note(row):
    from keras_gradstab.zoo.presets import format_value

    baseline = row["baseline"]
    if "none" in baseline:
        return f"- {row['preset']}: no baseline ({baseline['none']})"
    more = "".join(
        f"; {b['model']}: {format_value(row['metric'], b['value'])}"
        for b in row.get("more_baselines") or ()
    )
    return (
        f"- {row['preset']}: {baseline['model']}: "
        f"{format_value(row['metric'], baseline['value'])}{more}"
    )


def format_zoo_table(rows, backend=None):
    """The Markdown table of `evaluate_presets` rows, its baselines, and a summary line.

    "vs baseline" is the recorded value against the baseline's, signed so that a
    positive difference means the preset is better (percentage points for
    accuracies).
    """
    if not rows:
        return "No presets ship with this version yet."
    from keras_gradstab.zoo.presets import format_improvement, format_value

    lines = [
        "| preset | task | metric | recorded | measured now | baseline | vs baseline "
        "| parameters | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in rows:
        if r["error"]:
            measured, baseline, delta = f"ERROR {r['error'][:200]}", "-", "-"
        else:
            measured = format_value(r["metric"], r["measured"]) + ("" if r["ok"] else " (off)")
            baseline = (
                "none"
                if "none" in r["baseline"]
                else format_value(r["metric"], r["baseline"]["value"])
            )
            delta = format_improvement(r["metric"], r["improvement"])
            notes.append(_baseline_note(r))
        params = "-" if r["parameters"] is None else f"{r['parameters']:,}"
        recorded = "-" if r["error"] else format_value(r["metric"], r["recorded"])
        lines.append(
            f"| {r['preset']} | {r['task']} | {r['metric']} | {recorded} | "
            f"{measured} | {baseline} | {delta} | {params} | {r['seconds']:.1f} |"
        )
    if notes:
        lines += ["", "Baselines (trained the same way; see each preset's metadata):", *notes]
    bad = [r["preset"] for r in rows if not r["ok"]]
    where = f" on {backend}" if backend else ""
    total = sum(r["seconds"] for r in rows)
    if bad:
        lines.append(
            f"\n{len(rows)} presets evaluated{where} in {total:.1f} s; NOT within "
            "the tolerance of the recorded metric (or failed): " + ", ".join(bad)
        )
    else:
        lines.append(
            f"\n{len(rows)} presets evaluated{where} in {total:.1f} s; every one "
            "within the tolerance of its recorded metric."
        )
    return "\n".join(lines)


def zoo_table(names=None, stream=None):
    """Evaluates the built-in presets on the current backend; returns (table, rows)."""
    import keras

    rows = evaluate_presets(names, stream=stream)
    return format_zoo_table(rows, keras.config.backend()), rows


def _zoo_command(args):
    table, rows = zoo_table(args.presets or None)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0 if all(r["ok"] for r in rows) else 1


def tune_command(parser, args):
    """`keras-gradstab tune`: runs the search and prints the best hyperparameters."""
    # keras_tuner is optional: imported here only.
    from keras_gradstab import tuner

    if args.preset not in tuner.list_tasks():
        parser.error(f"unknown preset {args.preset!r}; choose from {tuner.list_tasks()}")
    result = tuner.tune(
        args.preset,
        max_trials=args.trials,
        epochs=args.epochs,
        max_train=args.max_train,
        quick=args.quick,
        directory=args.directory,
        seed=args.seed,
    )
    if result is None:
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: trials done")
        return 0
    print(
        f"best of {len(result['trials'])} trials on {args.preset}: "
        f"val_loss {result['best_val_loss']:.4f}"
    )
    for key, value in result["best_hyperparameters"].items():
        print(f"  {key} = {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-gradstab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="installed backends and versions")
    parser.add_argument(
        "--bench",
        action="store_true",
        help="main job only: also run the quick scan benchmark per backend",
    )
    parser.add_argument("--json", help="also write the preset rows to this file")
    zoo_parser = sub.add_parser("zoo", help="evaluate every preset on the current backend")
    zoo_parser.add_argument("presets", nargs="*", help="presets to evaluate (default: all)")
    zoo_parser.add_argument("--json", help="also write the rows to this file")
    bench_parser = sub.add_parser("bench", help="run benchmarks, one process per backend")
    bench_parser.add_argument(
        "names", nargs="*", default=None, help="benchmarks to run (default: all)"
    )
    bench_parser.add_argument("--full", action="store_true", help="full sizes (slow)")
    bench_parser.add_argument("--backend", action="append", choices=BACKENDS)
    bench_parser.add_argument("--json", help="also write the rows to this file")
    tune_parser = sub.add_parser(
        "tune",
        help="hyperparameter search (keras-tuner) on a preset's task",
        description="RandomSearch over the hypermodel of the preset's family on its "
        "task's training data (validation: the last 20%%). Distributed: set "
        "KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT (see "
        "the keras_gradstab.tuner docstring).",
    )
    tune_parser.add_argument("preset", help="a preset name (its task and model family)")
    tune_parser.add_argument("--trials", type=int, default=5, help="number of trials")
    tune_parser.add_argument("--epochs", type=int, default=3, help="epochs per trial")
    tune_parser.add_argument(
        "--max-train", type=int, default=2000, help="at most this many training examples"
    )
    tune_parser.add_argument("--quick", action="store_true", help="tiny data and search space")
    tune_parser.add_argument("--directory", help="keras-tuner's working directory")
    tune_parser.add_argument("--seed", type=int, default=0)
    tune_parser.add_argument("--json", help="also write the result to this file")
    rehash_parser = sub.add_parser(
        "rehash",
        help="record the sha256 of every file of preset directories",
        description="Checks each preset directory's weights against an old "
        "`weights_sha256` if it has one, checks its metadata's schema, and records the "
        "sha256 of config.json, metadata.json and model.weights.h5 in its metadata.",
    )
    rehash_parser.add_argument("directories", nargs="+", help="preset directories")
    worker = sub.add_parser("_bench-worker")
    worker.add_argument("names", nargs="+")
    worker.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    from keras_gradstab.benchmarks import BENCHMARKS

    if args.command == "_bench-worker":
        print("ROWS " + json.dumps(_bench_in_process(args.names, args.quick)))
        return 0
    if args.command == "info":
        info()
        return 0
    if args.command == "zoo":
        return _zoo_command(args)
    if args.command == "tune":
        return tune_command(parser, args)
    if args.command == "rehash":
        from keras_gradstab.zoo import presets

        for directory in args.directories:
            metadata = presets.rehash(directory)
            print(f"{directory}: {metadata['name']} re-hashed")
        return 0
    if args.command == "bench":
        names = args.names or list(BENCHMARKS)
        unknown = sorted(set(names) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
        rows = bench(args.backend or installed_backends(), names, quick=not args.full)
        print(format_rows(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
        return 0
    # The main job: versions, then every preset re-measured on this backend.
    import keras

    info()
    print(f"  evaluating on backend: {keras.config.backend()}", flush=True)
    args.presets = None
    status = _zoo_command(args)
    if args.bench:
        print(format_rows(bench(installed_backends(), ["scan"], quick=True)))
    return status


if __name__ == "__main__":
    sys.exit(main())
