"""The settings every script under `tutorials/` reads from the environment.

- `KERAS_GRADSTAB_QUICK=1`: the short run (small sizes, few steps) that the
  tests execute and whose outputs the documentation shows;
- `KERAS_GRADSTAB_TUTORIAL_OUT`: where the figures go; by default
  `docs/tutorials/figures/` of the checkout, where the committed figures of the
  full runs live.
"""

import os

QUICK_ENV = "KERAS_GRADSTAB_QUICK"
OUT_ENV = "KERAS_GRADSTAB_TUTORIAL_OUT"


def tutorial_settings():
    """`(quick, out_dir)`: the quick-mode flag and the figures directory (created)."""
    quick = os.environ.get(QUICK_ENV, "0") == "1"
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.environ.get(OUT_ENV) or os.path.join(checkout, "docs", "tutorials", "figures")
    os.makedirs(out_dir, exist_ok=True)
    return quick, out_dir
