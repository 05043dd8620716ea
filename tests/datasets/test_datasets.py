"""The generated data sets: determinism, shapes, and labels checked independently."""

import numpy as np
import pytest

from keras_gradstab import datasets


def test_copying_layout_and_baseline():
    (x, y), (xt, yt) = datasets.copying(25, num_train=50, num_test=7, seed=3)
    assert x.shape == (50, 45) and xt.shape == (7, 45)
    # Symbols in the first 10 steps, the delimiter at step 10 + 25 - 1, blanks elsewhere.
    assert np.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert np.all(x[:, 34] == 9)
    assert np.all(np.delete(x, list(range(10)) + [34], axis=1) == 0)
    np.testing.assert_array_equal(y[:, -10:], x[:, :10])
    assert np.all(y[:, :-10] == 0)
    # The baseline is the entropy of guessing uniformly over 8 symbols on 10 of 45 steps.
    assert datasets.copying_baseline(25) == pytest.approx(10 * np.log(8) / 45)
    (x2, _), _ = datasets.copying(25, num_train=50, num_test=7, seed=3)
    np.testing.assert_array_equal(x, x2)


def test_adding_target_is_sum_of_marked_values():
    (x, y), _ = datasets.adding(40, num_train=100, num_test=1, seed=1)
    assert np.all(x[:, :20, 1].sum(1) == 1) and np.all(x[:, 20:, 1].sum(1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(1), rtol=1e-6)
    # Predicting 1 gives a mean squared error near 1/6.
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.05


def test_digits_forms():
    (x, y), (xt, yt) = datasets.digits()
    assert x.shape[1:] == (8, 8, 1) and len(x) + len(xt) == 1797
    assert x.min() >= 0 and x.max() <= 1 and set(np.unique(y)) == set(range(10))
    (s, _), _ = datasets.digits(sequential=True)
    np.testing.assert_array_equal(s.reshape(-1, 8, 8), x[..., 0])
    (p, _), _ = datasets.digits(sequential=True, permuted=True)
    # The same pixels in another fixed order: sorted values per example agree.
    np.testing.assert_array_equal(np.sort(p[..., 0], 1), np.sort(s[..., 0], 1))
    assert not np.array_equal(p, s)
    with pytest.raises(ValueError, match="permuted"):
        datasets.digits(permuted=True)


def test_mnist1d_offline():
    (x, y), (xt, yt) = datasets.mnist1d(num_samples=200)
    assert x.shape == (160, 40, 1) and xt.shape == (40, 40, 1)
    assert set(np.unique(y)) <= set(range(10))


def test_arrow_pointing_labels_match_ray_marching():
    (x, y, geo), _ = datasets.arrow_pointing(
        64, num_train=40, num_test=0, seed=5, return_geometry=True
    )
    assert x.shape == (40, 64, 64, 1) and y.sum() == 20
    for i in range(len(y)):
        tip, tail = geo["tip"][i], geo["tail"][i]
        direction = (tip - tail) / np.linalg.norm(tip - tail)
        # March along the ray and see whether it enters the circle.
        steps = tip + np.linspace(0, 200, 4001)[:, None] * direction
        enters = np.any(np.linalg.norm(steps - geo["centre"][i], axis=1) < geo["radius"][i])
        assert enters == bool(y[i]), i
    # Black pixels: at least the circle's area.
    circle_area = np.pi * geo["radius"] ** 2
    black = (x[..., 0] == 0).sum((1, 2))
    assert np.all(black >= 0.9 * circle_area)


def test_arrow_pointing_extrapolation_keeps_object_sizes():
    (_, _, small), _ = datasets.arrow_pointing(
        64, 10, 0, object_scale=1 / 3, seed=0, return_geometry=True
    )
    (_, _, large), _ = datasets.arrow_pointing(
        128, 10, 0, object_scale=1 / 3, seed=1, return_geometry=True
    )
    for geo in (small, large):
        assert np.all((geo["radius"] >= 5) & (geo["radius"] <= 10))
    assert large["centre"].max() > 64  # objects spread over the larger image


def test_bad_arguments():
    with pytest.raises(ValueError, match="time_steps"):
        datasets.copying(0)
    with pytest.raises(ValueError, match="num_train"):
        datasets.adding(10, num_train=-1)
    with pytest.raises(ValueError, match="object_scale"):
        datasets.arrow_pointing(64, object_scale=1.0)
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.digits(test_fraction=1.5)


def test_arrow_pointing_arrow_scale_lengthens_only_the_arrow():
    kwargs = dict(num_train=20, num_test=0, object_scale=1 / 3, seed=3, return_geometry=True)
    (_, _, plain), _ = datasets.arrow_pointing(64, **kwargs)
    (x, y, big), _ = datasets.arrow_pointing(64, arrow_scale=2.5, **kwargs)
    length = np.linalg.norm(big["tip"] - big["tail"], axis=1)
    # Paper: length 15-30 px, width 2-4 px at scale 1; here x (1/3 * 2.5).
    assert np.all((length >= 12.5 - 1e-9) & (length <= 25 + 1e-9))
    assert np.all((big["width"] >= 2 * 2.5 / 3 - 1e-9) & (big["width"] <= 4 * 2.5 / 3 + 1e-9))
    assert np.all(np.linalg.norm(plain["tip"] - plain["tail"], axis=1) <= 10 + 1e-9)
    assert np.all((big["radius"] >= 5) & (big["radius"] <= 10)) and y.sum() == 10
    with pytest.raises(ValueError, match="arrow_scale"):
        datasets.arrow_pointing(64, arrow_scale=0)


def test_pydoc_text_splits_and_encoding_against_plain_python():
    from pydoc_data.topics import topics

    text = "".join(topics[key] for key in sorted(topics))
    characters = sorted(set(text))
    assert datasets.pydoc_text_vocabulary() == "".join(characters)
    length = 37
    (x, y), (xv, yv), (xt, yt) = datasets.pydoc_text(
        sequence_length=length, validation_fraction=0.1, test_fraction=0.2
    )
    decode = "".join
    n = len(text)
    test_start = n - round(0.2 * n)
    validation_start = test_start - round(0.1 * n)
    # Each split is the consecutive windows of its own part of the text, from its start;
    # the targets are the same text one character later.
    for (inputs, targets), start, stop in (
        ((x, y), 0, validation_start),
        ((xv, yv), validation_start, test_start),
        ((xt, yt), test_start, n),
    ):
        assert inputs.dtype == np.int32 and inputs.shape == ((stop - start - 1) // length, length)
        for row in (0, len(inputs) - 1):
            begin = start + row * length
            assert decode(characters[i] for i in inputs[row]) == text[begin : begin + length]
            assert (
                decode(characters[i] for i in targets[row]) == text[begin + 1 : begin + length + 1]
            )
        assert start + len(inputs) * length + 1 <= stop  # no target reaches the next split
    # The same on every call.
    again = datasets.pydoc_text(sequence_length=length, validation_fraction=0.1, test_fraction=0.2)
    np.testing.assert_array_equal(again[2][0], xt)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sequence_length": 0}, "sequence_length"),
        ({"sequence_length": 2.5}, "sequence_length"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"validation_fraction": 0.6, "test_fraction": 0.5}, "validation_fraction"),
    ],
)
def test_pydoc_text_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        datasets.pydoc_text(**kwargs)


def test_breast_cancer_is_a_stratified_split_standardized_with_train_statistics():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    raw = load_breast_cancer()
    (x, y), (xt, yt) = datasets.breast_cancer(seed=3)
    assert x.dtype == np.float32 and y.dtype == np.int32 and x.shape[1:] == (30,)
    # Recover each feature's affine map from the sorted values (the rows of both
    # splits together are the table's rows, each feature shifted and scaled).
    both = np.concatenate([x, xt]).astype("float64")
    scale, shift = np.empty(30), np.empty(30)
    for j in range(30):
        scale[j], shift[j] = np.polyfit(np.sort(both[:, j]), np.sort(raw.data[:, j]), 1)
    # Map the training rows back and find them in the table.
    back = x * scale + shift
    found = [int(np.argmin(np.abs(raw.data - row).sum(1))) for row in back]
    np.testing.assert_allclose(back, raw.data[found], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(y, raw.target[found])
    # The statistics are those of the training rows only (scikit-learn's scaler).
    scaler = StandardScaler().fit(raw.data[found])
    np.testing.assert_allclose(x, scaler.transform(raw.data[found]), atol=1e-4)
    assert len(set(found)) == len(x) and len(x) + len(xt) == 569
    # Stratified: each class keeps round(0.2 * count) examples for testing.
    counts = np.bincount(raw.target)
    np.testing.assert_array_equal(np.bincount(yt), np.round(0.2 * counts).astype(int))
    # Fixed by the seed, another seed splits differently.
    np.testing.assert_array_equal(datasets.breast_cancer(seed=3)[0][0], x)
    assert not np.array_equal(datasets.breast_cancer(seed=4)[1][0], xt)
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.breast_cancer(test_fraction=0.0)
