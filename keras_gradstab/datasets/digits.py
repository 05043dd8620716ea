"""scikit-learn's handwritten digits (8x8, shipped with the package) and MNIST-1D."""

import numpy as np


def digits(sequential=False, permuted=False, test_fraction=0.2, seed=0):
    """scikit-learn's 1797 digits, split into train and test, pixels scaled to [0, 1].

    Args:
        sequential: if `True`, return pixel-by-pixel sequences `[n, 64, 1]` (the
            small analogue of pixel MNIST) instead of images `[n, 8, 8, 1]`.
        permuted: if `True` (with `sequential`), apply one fixed random permutation
            of the 64 pixel positions, drawn from `seed` (permuted pixel MNIST).
        test_fraction: the share of examples kept for testing, in (0, 1).
        seed: the seed of the split and of the permutation.

    Returns:
        `(x_train, y_train), (x_test, y_test)`; x float32, y int32 labels 0..9.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), (xt, yt) = datasets.digits(sequential=True)
    >>> x.shape[1:], len(x) + len(xt)
    ((64, 1), 1797)
    """
    if permuted and not sequential:
        raise ValueError("`permuted=True` needs `sequential=True` (it permutes pixel order).")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must lie in (0, 1); received {test_fraction!r}.")
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32")
    y = data.target.astype("int32")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    if sequential:
        x = x.reshape(len(x), 64, 1)
        if permuted:
            x = x[:, rng.permutation(64)]
    else:
        x = x[..., None]
    return (x[train], y[train]), (x[test], y[test])


def mnist1d(num_samples=5000, seed=42):
    """MNIST-1D (Greydanus & Kobak), generated locally by the `mnist1d` package.

    Uses `mnist1d.data.make_dataset` with the package's default arguments (40
    points per sequence, 80/20 split), so no download happens.

    Args:
        num_samples: total examples (train and test together).
        seed: the generator's seed (42 is the package's default data set).

    Returns:
        `(x_train, y_train), (x_test, y_test)`; x float32 `[n, 40, 1]`, y int32.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), (xt, yt) = datasets.mnist1d(num_samples=100)
    >>> x.shape, xt.shape
    ((80, 40, 1), (20, 40, 1))
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError(
            "datasets.mnist1d needs the `mnist1d` package (a dependency of keras_gradstab): "
            "pip install mnist1d"
        ) from e
    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    data = make_dataset(args)
    return (
        (data["x"][..., None].astype("float32"), data["y"].astype("int32")),
        (data["x_test"][..., None].astype("float32"), data["y_test"].astype("int32")),
    )
