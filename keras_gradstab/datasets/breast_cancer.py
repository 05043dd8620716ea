"""scikit-learn's Wisconsin breast cancer table (shipped with the package)."""

import numpy as np


def breast_cancer(test_fraction=0.2, seed=0):
    """scikit-learn's 569 breast cancer cases (30 features), stratified split, standardized.

    The split is stratified: each class keeps its share in the test set
    (`round(test_fraction * count)` of its examples, drawn from `seed`). Every
    feature is standardized with the mean and standard deviation of the
    training split only, so the test set leaks nothing into the inputs.

    Args:
        test_fraction: the share of examples kept for testing, in (0, 1).
        seed: the seed of the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`; x float32 `[n, 30]`, y int32
        labels (0 malignant, 1 benign).

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), (xt, yt) = datasets.breast_cancer()
    >>> x.shape, xt.shape
    ((456, 30), (113, 30))
    >>> bool(abs(x.mean(0)).max() < 1e-5), bool(abs(x.std(0) - 1).max() < 1e-5)
    (True, True)
    """
    if isinstance(test_fraction, bool) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must lie in (0, 1); received {test_fraction!r}.")
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x, y = data.data.astype("float64"), data.target.astype("int32")
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test.append(members[: int(round(test_fraction * len(members)))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(x)), test)
    train, test = rng.permutation(train), rng.permutation(test)
    mean, std = x[train].mean(0), x[train].std(0)
    x = ((x - mean) / std).astype("float32")
    return (x[train], y[train]), (x[test], y[test])
