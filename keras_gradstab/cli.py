"""`keras-gradstab` / `python -m keras_gradstab`.

    keras-gradstab                 # info, the zoo table, the scan benchmark (quick) per backend
    keras-gradstab info            # installed backends and versions
    keras-gradstab zoo             # evaluate every preset on the current backend
    keras-gradstab bench [--full] [--backend B ...] [--json FILE]
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


def format_rows(rows):
    header = ["benchmark", "backend", "case", "shape", "seconds", "vs keras.layers.RNN",
              "vs keras.ops.scan"]
    # Ratio columns that some benchmarks add beyond the common ones.
    header += [k for k in dict.fromkeys(k for row in rows for k in row) if k not in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = []
        for key in header:
            value = row.get(key, "")
            if key == "seconds":
                value = f"{value:.4f}"
            elif isinstance(value, float):
                value = f"{value:.2f}x"
            cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def zoo_table():
    """Evaluates every built-in preset on the current backend; returns the table."""
    import keras

    from keras_gradstab import zoo

    names = zoo.list_presets()
    if not names:
        return "No presets ship with this version yet."
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] evaluating {name} on {keras.config.backend()} ...", flush=True)
        rows.append(zoo.evaluate(name))
    lines = ["| preset | task | metric | recorded | measured | parameters | seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['task']} | {r['metric']} | {r['recorded']:.4f} | "
                     f"{r['measured']:.4f} | {r['parameters']} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def tune_command(parser, args):
    """`keras-gradstab tune`: runs the search and prints the best hyperparameters."""
    # keras_tuner is optional: imported here only.
    from keras_gradstab import tuner

    if args.preset not in tuner.list_tasks():
        parser.error(f"unknown preset {args.preset!r}; choose from {tuner.list_tasks()}")
    result = tuner.tune(args.preset, max_trials=args.trials, epochs=args.epochs,
                        max_train=args.max_train, quick=args.quick,
                        directory=args.directory, seed=args.seed)
    if result is None:
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: trials done")
        return 0
    print(f"best of {len(result['trials'])} trials on {args.preset}: "
          f"val_loss {result['best_val_loss']:.4f}")
    for key, value in result["best_hyperparameters"].items():
        print(f"  {key} = {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gradstab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="installed backends and versions")
    sub.add_parser("zoo", help="evaluate every preset on the current backend")
    bench_parser = sub.add_parser("bench", help="run benchmarks, one process per backend")
    bench_parser.add_argument("names", nargs="*", default=None,
                              help="benchmarks to run (default: all)")
    bench_parser.add_argument("--full", action="store_true", help="full sizes (slow)")
    bench_parser.add_argument("--backend", action="append", choices=BACKENDS)
    bench_parser.add_argument("--json", help="also write the rows to this file")
    tune_parser = sub.add_parser(
        "tune", help="hyperparameter search (keras-tuner) on a preset's task",
        description="RandomSearch over the hypermodel of the preset's family on its "
        "task's training data (validation: the last 20%%). Distributed: set "
        "KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT (see "
        "the keras_gradstab.tuner docstring).")
    tune_parser.add_argument("preset", help="a preset name (its task and model family)")
    tune_parser.add_argument("--trials", type=int, default=5, help="number of trials")
    tune_parser.add_argument("--epochs", type=int, default=3, help="epochs per trial")
    tune_parser.add_argument("--max-train", type=int, default=2000,
                             help="at most this many training examples")
    tune_parser.add_argument("--quick", action="store_true",
                             help="tiny data and search space")
    tune_parser.add_argument("--directory", help="keras-tuner's working directory")
    tune_parser.add_argument("--seed", type=int, default=0)
    tune_parser.add_argument("--json", help="also write the result to this file")
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
        print(zoo_table())
        return 0
    if args.command == "tune":
        return tune_command(parser, args)
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
    # The main job.
    info()
    print(zoo_table())
    rows = bench(installed_backends(), ["scan"], quick=True)
    print(format_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
