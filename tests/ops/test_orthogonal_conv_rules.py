"""The existence rules of orthogonal convolutions (Achour et al., JMLR 2022)."""

import warnings

import numpy as np
import pytest

import keras_gradstab as kg
from keras_gradstab.ops.orthogonal_conv import RULE_COLUMN, RULE_ROW, RULE_STRIDE


def no_warning(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kg.ops.check_orthogonal_conv(*args, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,rule",
    [
        # Row-orthogonal case (289 <= 32 * 16) but 289 > 32 * 9: impossible.
        (((3, 3), (4, 4), 32, 289), {}, RULE_ROW),
        # Column-orthogonal case (129 > 8 * 16) needs stride <= kernel size.
        (((3, 3), (4, 4), 8, 129), {}, RULE_COLUMN),
        # A kernel smaller than the stride, even where the channel counts would allow it.
        (((1, 1), (2, 2), 4, 4), {}, RULE_STRIDE),
        # Transposed: the adjoint convolution runs 289 -> 32 channels: row rule again.
        (((3, 3), (4, 4), 289, 32), {"transposed": True}, RULE_ROW),
    ],
)
def test_the_four_refusal_cases_name_their_rule(args, kwargs, rule):
    with pytest.raises(
        ValueError, match=rule.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        kg.ops.check_orthogonal_conv(*args, **kwargs)


def test_boundary_cases_that_exist_pass_silently():
    no_warning((3, 3), (2, 2), 8, 30)  # row-orthogonal (30 <= 8 * 4), exists
    no_warning((3, 3), (2, 2), 8, 33)  # column-orthogonal with S <= k
    no_warning((3,), (1,), 4, 2)
    no_warning((3, 3), (1, 1), 16, 16, exact_construction=True)


def test_hard_case_and_zero_padding_warn():
    with pytest.warns(UserWarning, match="seldom reaches"):
        kg.ops.check_orthogonal_conv((3, 3), (1, 1), 16, 16)
    with pytest.warns(UserWarning, match="padding='same'"):
        kg.ops.check_orthogonal_conv((3, 3), (1, 1), 16, 8, padding="same")
    with pytest.warns(UserWarning, match="padding='valid'"):
        kg.ops.check_orthogonal_conv((3, 3), (1, 1), 16, 8, padding="valid")


def test_regularizer_runs_the_rules_on_the_kernel_shape():
    reg = kg.regularizers.OrthogonalConv(1.0, strides=4)
    with pytest.raises(ValueError, match="row-orthogonal existence"):
        reg(np.zeros((3, 3, 32, 289), "float32"))
    with pytest.raises(ValueError, match="column-orthogonal existence"):
        reg(np.zeros((3, 3, 8, 129), "float32"))
