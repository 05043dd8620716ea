"""What every recipe's training loop shares (`_digits` and `_recurrent` call it).

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it through them.
"""

import time


def timed_fit(model, x, y, *, batch_size, epochs, callbacks):
    """`model.fit` on `(x, y)` without progress output, shuffled every epoch; returns
    the seconds it took."""
    start = time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        shuffle=True,
        callbacks=list(callbacks),
    )
    return time.perf_counter() - start
