"""Character-level text from the Python standard library (no download)."""

import numpy as np


def _pydoc_text():
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))


def pydoc_text_vocabulary():
    """The characters of `pydoc_text`, sorted: character `i` is encoded as `i`.

    Returns:
        A string of the distinct characters of the text, in code-point order.

    Example:

    >>> from keras_gradstab import datasets
    >>> vocabulary = datasets.pydoc_text_vocabulary()
    >>> vocabulary == "".join(sorted(set(vocabulary))), "e" in vocabulary
    (True, True)
    """
    return "".join(sorted(set(_pydoc_text())))


def _fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"`{name}` must be a number in (0, 1); received {name}={value!r}.")
    return float(value)


def pydoc_text(sequence_length=100, validation_fraction=0.05, test_fraction=0.05):
    """Next-character prediction on the help text of the Python standard library.

    The text is `pydoc_data.topics.topics` (the English prose of Python's
    `help()` topics, about 465k characters) joined in sorted key order, and
    encoded with `pydoc_text_vocabulary()`. The last `test_fraction` of the
    text is the test split, the `validation_fraction` before it the
    validation split, the rest the training split: held-out text is text the
    model never saw. Each split is cut into consecutive, non-overlapping
    windows of `sequence_length` characters; the target of each position is
    the character after it (a split's last characters that do not fill a
    window are dropped). The result is the same on every call.

    Args:
        sequence_length: characters per window (an integer >= 1).
        validation_fraction: share of the text, before the test part, held
            out for validation (in (0, 1)).
        test_fraction: share of the text, at its end, held out for testing
            (in (0, 1)); the two fractions sum to less than 1.

    Returns:
        `(x_train, y_train), (x_validation, y_validation), (x_test, y_test)`:
        int32 arrays `[windows, sequence_length]`, where `y[:, t]` is the
        character that follows `x[:, t]`.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), _, (xt, yt) = datasets.pydoc_text(sequence_length=50)
    >>> x.shape[1], bool((x[:, 1:] == y[:, :-1]).all())
    (50, True)
    >>> vocabulary = datasets.pydoc_text_vocabulary()
    >>> "".join(vocabulary[i] for i in x[0, :9])
    'The "asse'
    """
    if (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, int)
        or sequence_length < 1
    ):
        raise ValueError(
            "`sequence_length` must be an integer >= 1; received "
            f"sequence_length={sequence_length!r}."
        )
    validation_fraction = _fraction("validation_fraction", validation_fraction)
    test_fraction = _fraction("test_fraction", test_fraction)
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "`validation_fraction` + `test_fraction` must be below 1; received "
            f"validation_fraction={validation_fraction!r}, "
            f"test_fraction={test_fraction!r}."
        )
    text = _pydoc_text()
    index = {c: i for i, c in enumerate(sorted(set(text)))}
    codes = np.array([index[c] for c in text], dtype="int32")
    test_start = len(codes) - int(round(len(codes) * test_fraction))
    validation_start = test_start - int(round(len(codes) * validation_fraction))

    def windows(start, stop):
        count = (stop - start - 1) // sequence_length
        if count < 1:
            raise ValueError(
                f"`sequence_length` must leave at least one window in each split; received "
                f"sequence_length={sequence_length!r} for a split of {stop - start} characters."
            )
        part = codes[start : start + count * sequence_length + 1]
        x = part[:-1].reshape(count, sequence_length)
        y = part[1:].reshape(count, sequence_length)
        return x, y

    return (
        windows(0, validation_start),
        windows(validation_start, test_start),
        windows(test_start, len(codes)),
    )
