"""Runs every benchmark at full size, one process per backend, and prints the table.

    python benchmarks/run.py [names...] [--backend B] [--json FILE]

(`make bench` runs it.) Equivalent to `keras-gradstab bench --full`. Record what it
prints, with the machine, in benchmarks/RESULTS.md.
"""

import sys

from keras_gradstab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--full", *sys.argv[1:]]))
