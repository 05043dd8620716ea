"""Stable limit-cycle initialization (Sokol, Jordan, Kadile & Park, Asilomar 2019)."""

import random

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gradstab")
class LimitCycle(keras.initializers.Initializer):
    """Block-rotation recurrent initializer that puts a tanh RNN on a stable limit cycle.

    The matrix is block-diagonal with 2x2 blocks `s * R(t)`, `R(t)` a rotation by the
    angle `t = angle_offset + U(0, angle_range)` and `s = scale_offset + U(0,
    scale_range)`. With `s` just above 1 the stable fixed point at 0 of `h <- tanh(h W)`
    has lost its stability to an attracting invariant circle in each block (a
    Neimark-Sacker bifurcation): the orbit neither decays nor explodes, and the
    direction along the cycle keeps a gradient that does not vanish. The reference
    recipe (`t = 0.2 + U(0, 1)`, `s = 1 + 0.1 U(0, 1)`) is the default. The
    reference meant to flip the sign of the angles at random but never did;
    `random_sign=True` does it (each block turns one way or the other with
    probability 1/2). For an odd size the last unit gets a 1x1 block `s`.

    Use it as the `recurrent_initializer` of a `keras.layers.SimpleRNN` (with zero
    biases), or put a built GRU / SimpleRNN on the cycle with `put_on_limit_cycle`.

    Args:
        angle_offset: smallest rotation angle in radians.
        angle_range: width of the uniform range of the angles.
        scale_offset: smallest block scale `s`.
        scale_range: width of the uniform range of the scales.
        random_sign: flip the sign of each block's angle with probability 1/2.
        seed: integer seed, or `None`.

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> w = np.asarray(kg.initializers.LimitCycle(seed=0)((4, 4)))
    >>> block = w[:2, :2]
    >>> bool(1.0 <= np.sqrt(np.linalg.det(block)) <= 1.1), float(w[0, 2])
    (True, 0.0)

    References:
        - *Adjoint Dynamics of Stable Limit Cycle Neural Networks*, P. Sokol, I.
          Jordan, E. Kadile, I. M. Park, Asilomar Conference on Signals, Systems,
          and Computers, 2019.
    """

    def __init__(
        self,
        angle_offset=0.2,
        angle_range=1.0,
        scale_offset=1.0,
        scale_range=0.1,
        random_sign=False,
        seed=None,
    ):
        for name, value in (
            ("angle_offset", angle_offset),
            ("angle_range", angle_range),
            ("scale_offset", scale_offset),
            ("scale_range", scale_range),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"`{name}` must be a number; received {value!r}.")
        if angle_range < 0 or scale_range < 0:
            raise ValueError(
                "`angle_range` and `scale_range` must be >= 0; received "
                f"angle_range={angle_range}, scale_range={scale_range}."
            )
        if not isinstance(random_sign, bool):
            raise ValueError(f"`random_sign` must be a bool; received {random_sign!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None; received {seed!r}.")
        self.angle_offset = float(angle_offset)
        self.angle_range = float(angle_range)
        self.scale_offset = float(scale_offset)
        self.scale_range = float(scale_range)
        self.random_sign = random_sign
        self.seed = seed
        self._seed = seed if seed is not None else random.randint(1, 2**31 - 1)

    def __call__(self, shape, dtype=None):
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(
                f"LimitCycle initializes square recurrent matrices; received shape {shape}."
            )
        dtype = dtype or "float32"
        n = int(shape[0])
        blocks = n // 2
        seeds = keras.random.SeedGenerator(self._seed)
        if blocks == 0:
            scale = self.scale_offset + self.scale_range * keras.random.uniform(
                (1,), seed=seeds, dtype=dtype
            )
            return ops.reshape(scale, (1, 1))
        angle = self.angle_offset + self.angle_range * keras.random.uniform(
            (blocks,), seed=seeds, dtype=dtype
        )
        scale = self.scale_offset + self.scale_range * keras.random.uniform(
            (blocks,), seed=seeds, dtype=dtype
        )
        flip = keras.random.uniform((blocks,), seed=seeds, dtype=dtype)
        if self.random_sign:
            angle = ops.where(flip < 0.5, -angle, angle)
        c, s = scale * ops.cos(angle), scale * ops.sin(angle)
        # One 2x2 block per pair of units: [[c, s], [-s, c]] (a rotation for h W).
        block = ops.reshape(ops.stack([c, s, -s, c], axis=-1), (blocks, 2, 1, 2))
        eye = ops.reshape(ops.eye(blocks, dtype=dtype), (blocks, 1, blocks, 1))
        w = ops.reshape(block * eye, (2 * blocks, 2 * blocks))
        if n % 2:
            last = self.scale_offset + self.scale_range * keras.random.uniform(
                (1, 1), seed=seeds, dtype=dtype
            )
            w = ops.concatenate([w, ops.zeros((2 * blocks, 1), dtype)], axis=1)
            w = ops.concatenate(
                [w, ops.concatenate([ops.zeros((1, 2 * blocks), dtype), last], axis=1)], axis=0
            )
        return w

    def get_config(self):
        return {
            "angle_offset": self.angle_offset,
            "angle_range": self.angle_range,
            "scale_offset": self.scale_offset,
            "scale_range": self.scale_range,
            "random_sign": self.random_sign,
            "seed": self.seed,
        }


def put_on_limit_cycle(layer, initializer=None):
    """Sets a built `keras.layers.GRU` or `SimpleRNN` (or their cells) on a limit cycle.

    - SimpleRNN: recurrent kernel `W_lc` (from `initializer`, `LimitCycle()` by
      default), bias 0; with zero input `h <- tanh(h W_lc)`.
    - GRU: reset and update recurrent weights 0, candidate recurrent block
      `2 W_lc`, all biases 0. With zero input both gates are 1/2, so
      `h <- 0.5 h + 0.5 tanh(h W_lc)` (for `reset_after=True` and `False` alike):
      the same fixed points as the tanh RNN. Their stability differs: the fixed
      point at 0 has eigenvalues `0.5 + 0.5 s exp(+-i t)`, inside the unit circle
      while `s cos t < 1`, which holds for most angles of the reference range
      (`t > 0.31`). So this recipe (the reference's) puts a GRU on a cycle only
      for small angles, e.g. `LimitCycle(angle_offset=0.0, angle_range=0.25)`;
      check with `keras_gradstab.dynamics.find_limit_cycles`.

    The input kernel is left as it is.

    Our `NCGRU` cannot be put on a limit cycle, and a `ValueError` says so: its
    candidate matrix `U_c` is orthogonal by construction (no scale `s > 1`) and
    its candidate activation, modReLU, does not saturate. With the recipe's zero
    gate weights the gates are constants `u`, `r` in (0, 1), and with zero input
    (modReLU bias <= 0) `||F(h)|| <= (u + (1 - u) r) ||h|| < ||h||`: every orbit
    decays to 0, there is no cycle to sit on.

    Args:
        layer: a built `keras.layers.SimpleRNN`, `GRU`, `SimpleRNNCell` or `GRUCell`.
        initializer: a square-matrix initializer; `LimitCycle()` if `None`.

    Returns:
        The matrix `W_lc` that was used, as a NumPy array.

    Example:

    >>> import keras
    >>> import keras_gradstab as kg
    >>> rnn = keras.layers.SimpleRNN(4)
    >>> rnn.build((None, 10, 3))
    >>> w = kg.initializers.put_on_limit_cycle(rnn)
    >>> w.shape
    (4, 4)

    References:
        - *Adjoint Dynamics of Stable Limit Cycle Neural Networks*, P. Sokol, I.
          Jordan, E. Kadile, I. M. Park, Asilomar Conference on Signals, Systems,
          and Computers, 2019.
    """
    from keras_gradstab.layers.recurrent.ncgru import NCGRUCell

    cell = getattr(layer, "cell", layer)
    if isinstance(cell, NCGRUCell):
        raise ValueError(
            "put_on_limit_cycle cannot put an NCGRU on a limit cycle: its candidate "
            "matrix is orthogonal by construction (no scale s > 1) and modReLU does not "
            "saturate, so with the recipe's zero gate weights and zero input "
            "||F(h)|| <= (u + (1 - u) r) ||h|| < ||h|| (u, r the constant gates): every "
            "orbit decays to 0. Use a keras.layers.GRU or SimpleRNN instead."
        )
    if not isinstance(cell, (keras.layers.SimpleRNNCell, keras.layers.GRUCell)):
        raise ValueError(
            "`layer` must be a keras.layers.SimpleRNN, GRU, SimpleRNNCell or GRUCell; "
            f"received {type(layer).__name__}."
        )
    if not cell.built:
        raise ValueError(
            f"`layer` ({type(layer).__name__}) must be built first: call "
            "layer.build(input_shape) or call it on data."
        )
    initializer = keras.initializers.get(initializer or LimitCycle())
    units = cell.units
    w_lc = np.asarray(ops.convert_to_numpy(initializer((units, units), "float32")))
    if isinstance(cell, keras.layers.SimpleRNNCell):
        cell.recurrent_kernel.assign(w_lc)
    else:
        # Keras GRU gate order in the kernels: update z, reset r, candidate h.
        recurrent = np.zeros((units, 3 * units), "float32")
        recurrent[:, 2 * units :] = 2.0 * w_lc
        cell.recurrent_kernel.assign(recurrent)
    if cell.use_bias:
        cell.bias.assign(np.zeros(cell.bias.shape, "float32"))
    return w_lc
