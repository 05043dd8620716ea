"""The standard long-memory tasks of the orthogonal-RNN papers: copying and adding."""

import numpy as np

from keras_gradstab.datasets._split import check_sizes


def copying(time_steps, num_train=10000, num_test=1000, num_symbols=8, copy_length=10, seed=0):
    """The copying task (Hochreiter & Schmidhuber; Arjovsky et al. 2016).

    Each sequence has length `time_steps + 2 * copy_length`: `copy_length`
    symbols drawn from 1..`num_symbols`, then `time_steps - 1` blanks (0), the
    delimiter `num_symbols + 1`, and `copy_length` more blanks. The target is
    blank everywhere except the last `copy_length` steps, which repeat the
    symbols. A model that ignores the symbols reaches the cross-entropy
    `copy_length * log(num_symbols) / (time_steps + 2 * copy_length)`, returned by
    `copying_baseline`.

    Args:
        time_steps: the delay T between the symbols and their recall (>= 1).
        num_train: number of training sequences.
        num_test: number of test sequences.
        num_symbols: size of the symbol alphabet (>= 2).
        copy_length: how many symbols to remember (>= 1).
        seed: the seed; the same seed gives the same data.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: int32 arrays of shape
        `[n, time_steps + 2 * copy_length]`, tokens in 0..`num_symbols + 1`.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), _ = datasets.copying(20, num_train=4, num_test=2)
    >>> x.shape, int(x[0, 29])
    ((4, 40), 9)
    """
    for name, value, low in (
        ("time_steps", time_steps, 1),
        ("num_symbols", num_symbols, 2),
        ("copy_length", copy_length, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}; received {value!r}.")
    check_sizes(num_train, num_test)
    rng = np.random.default_rng(seed)

    def make(n):
        length = time_steps + 2 * copy_length
        symbols = rng.integers(1, num_symbols + 1, size=(n, copy_length))
        x = np.zeros((n, length), "int32")
        y = np.zeros((n, length), "int32")
        x[:, :copy_length] = symbols
        x[:, copy_length + time_steps - 1] = num_symbols + 1
        y[:, -copy_length:] = symbols
        return x, y

    return make(num_train), make(num_test)


def copying_baseline(time_steps, num_symbols=8, copy_length=10):
    """Cross-entropy per step of the best model that ignores the symbols.

    Such a model predicts blank until the recall, then a uniform guess over the
    `num_symbols` symbols for each of the `copy_length` recalled steps.

    Args:
        time_steps: the delay T of the task.
        num_symbols: size of the symbol alphabet.
        copy_length: how many symbols are recalled.

    Returns:
        `copy_length * log(num_symbols) / (time_steps + 2 * copy_length)`, a float.

    Example:

    >>> from keras_gradstab import datasets
    >>> round(float(datasets.copying_baseline(100)), 4)
    0.1733
    """
    return copy_length * np.log(num_symbols) / (time_steps + 2 * copy_length)


def adding(time_steps, num_train=10000, num_test=1000, seed=0):
    """The adding task (Hochreiter & Schmidhuber; Arjovsky et al. 2016).

    Each input step holds two features: a value drawn from U(0, 1) and a marker.
    Exactly two steps are marked with 1, one in each half of the sequence; the
    target is the sum of their two values. Predicting 1 always gives a mean
    squared error of about 0.167 (the baseline).

    Args:
        time_steps: sequence length T (>= 2).
        num_train: number of training sequences.
        num_test: number of test sequences.
        seed: the seed; the same seed gives the same data.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x float32 `[n, T, 2]`, y float32 `[n, 1]`.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), _ = datasets.adding(50, num_train=3, num_test=1)
    >>> x.shape, y.shape, float(x[0, :, 1].sum())
    ((3, 50, 2), (3, 1), 2.0)
    """
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 2:
        raise ValueError(f"`time_steps` must be an integer >= 2; received {time_steps!r}.")
    check_sizes(num_train, num_test)
    rng = np.random.default_rng(seed)
    half = time_steps // 2

    def make(n):
        values = rng.uniform(0.0, 1.0, size=(n, time_steps))
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, time_steps, size=n)
        markers = np.zeros((n, time_steps))
        markers[np.arange(n), first] = 1.0
        markers[np.arange(n), second] = 1.0
        x = np.stack([values, markers], axis=-1).astype("float32")
        y = (values[np.arange(n), first] + values[np.arange(n), second])[:, None]
        return x, y.astype("float32")

    return make(num_train), make(num_test)
