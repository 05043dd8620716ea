"""A recurrent cell's step as a map of the flat state, in float64 NumPy."""

import keras
import numpy as np


def _numpy_activation(fn):
    table = {
        keras.activations.tanh: np.tanh,
        keras.activations.sigmoid: lambda x: 1.0 / (1.0 + np.exp(-x)),
        keras.activations.relu: lambda x: np.maximum(x, 0.0),
        keras.activations.linear: lambda x: x,
        keras.activations.hard_sigmoid: lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    }
    return table.get(fn)


def _weight(v):
    return np.asarray(keras.ops.convert_to_numpy(v), "float64")


def _state_sizes(cell):
    size = cell.state_size
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    for s in sizes:
        if not isinstance(s, int):
            raise ValueError(
                f"the cell's state_size must be integers (flat states); received {size!r}."
            )
    return sizes


class CellMap:
    """`F(h)`: one step of `cell` on the flat state `h` (all states concatenated).

    Keras's `SimpleRNNCell`, `GRUCell` and `LSTMCell` with the standard activations
    are evaluated by a float64 NumPy transcription of their step (exact to float64,
    so central-difference Jacobians are accurate to ~1e-9). Any other cell is
    called through Keras in float32 (Jacobian accuracy ~1e-4). The NumPy
    transcription reads the weights once, when the map is made.

    Args:
        cell: a built Keras recurrent cell (with integer `state_size`).
        inputs: the constant input `x` of every step, shape `[input_dim]`; zeros
            if `None`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.dynamics import CellMap
    >>> cell = keras.layers.SimpleRNNCell(2, use_bias=False)
    >>> cell.build((None, 1))
    >>> _ = cell.recurrent_kernel.assign(np.array([[0.5, 0.0], [0.0, 2.0]], "float32"))
    >>> step = CellMap(cell)  # h <- tanh(h W)
    >>> np.round(step(np.array([1.0, 1.0])), 4).tolist()
    [0.4621, 0.964]
    >>> np.round(step.jacobian(np.zeros(2))[0], 4).tolist()  # W^T at h = 0
    [[0.5, 0.0], [0.0, 2.0]]
    """

    def __init__(self, cell, inputs=None):
        if not hasattr(cell, "state_size") or not callable(cell):
            raise ValueError(
                "`cell` must be a Keras recurrent cell (with `state_size`); received "
                f"{type(cell).__name__}."
            )
        if not cell.built:
            raise ValueError(
                f"`cell` ({type(cell).__name__}) must be built first: call "
                "cell.build((None, input_dim)) or use it in a layer."
            )
        self.cell = cell
        self.sizes = _state_sizes(cell)
        self.dim = int(sum(self.sizes))
        kernel = getattr(cell, "kernel", None)
        if inputs is None:
            if kernel is None:
                raise ValueError(
                    f"pass `inputs` for {type(cell).__name__}: its input size is unknown."
                )
            inputs = np.zeros(kernel.shape[0])
        self.inputs = np.asarray(inputs, "float64").reshape(-1)
        if kernel is not None and self.inputs.shape[0] != kernel.shape[0]:
            raise ValueError(
                f"`inputs` must have {kernel.shape[0]} entries (the cell's input size); "
                f"received {self.inputs.shape[0]}."
            )
        # The weights are read once, here: later changes to the cell are not seen.
        self._step = self._numpy_step()
        self.exact = self._step is not None
        self.epsilon = 1e-6 if self.exact else 1e-3

    def _numpy_step(self):
        cell = self.cell
        kinds = (keras.layers.SimpleRNNCell, keras.layers.GRUCell, keras.layers.LSTMCell)
        if type(cell) not in kinds:
            return None
        act = _numpy_activation(cell.activation)
        rec = _numpy_activation(getattr(cell, "recurrent_activation", keras.activations.tanh))
        if act is None or rec is None:
            return None
        x = self.inputs
        k, rk = _weight(cell.kernel), _weight(cell.recurrent_kernel)
        u = cell.units
        if type(cell) is keras.layers.SimpleRNNCell:
            b = _weight(cell.bias) if cell.use_bias else 0.0
            xb = x @ k + b
            return lambda h: act(xb + h @ rk)
        if type(cell) is keras.layers.LSTMCell:
            b = _weight(cell.bias) if cell.use_bias else 0.0
            xb = x @ k + b

            def lstm(s):
                h, c = s[:, :u], s[:, u:]
                z = xb + h @ rk
                i, f = rec(z[:, :u]), rec(z[:, u : 2 * u])
                c = f * c + i * act(z[:, 2 * u : 3 * u])
                o = rec(z[:, 3 * u :])
                return np.concatenate([o * act(c), c], axis=1)

            return lstm
        # GRUCell, gate order update z, reset r, candidate.
        if cell.use_bias:
            b = _weight(cell.bias)
            b_in, b_rec = (b[0], b[1]) if cell.reset_after else (b, np.zeros_like(b))
        else:
            b_in = b_rec = np.zeros(3 * u)
        xb = x @ k + b_in

        def gru(h):
            if cell.reset_after:
                inner = h @ rk + b_rec
                z = rec(xb[:u] + inner[:, :u])
                r = rec(xb[u : 2 * u] + inner[:, u : 2 * u])
                candidate = act(xb[2 * u :] + r * inner[:, 2 * u :])
            else:
                z = rec(xb[:u] + h @ rk[:, :u])
                r = rec(xb[u : 2 * u] + h @ rk[:, u : 2 * u])
                candidate = act(xb[2 * u :] + (r * h) @ rk[:, 2 * u :])
            return z * h + (1.0 - z) * candidate

        return gru

    def __call__(self, states):
        """Applies one step to `states` `[N, dim]` (or `[dim]`); float64 out."""
        states = np.asarray(states, "float64")
        single = states.ndim == 1
        states = states.reshape(-1, self.dim)
        if self._step is not None:
            out = self._step(states)
        else:
            n = states.shape[0]
            parts = np.split(states.astype("float32"), np.cumsum(self.sizes)[:-1], axis=1)
            x = np.broadcast_to(self.inputs.astype("float32"), (n, self.inputs.shape[0]))
            _, new_states = self.cell(x, list(parts))
            new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
            out = np.concatenate(
                [np.asarray(keras.ops.convert_to_numpy(s), "float64") for s in new_states],
                axis=1,
            )
        return out[0] if single else out

    def jacobian(self, states):
        """The step's Jacobian dF_i/dh_j at `states` `[N, dim]`, by central differences."""
        states = np.asarray(states, "float64").reshape(-1, self.dim)
        n, d = states.shape
        eye = self.epsilon * np.eye(d)
        shifted = np.concatenate(
            [(states[:, None, :] + eye).reshape(-1, d), (states[:, None, :] - eye).reshape(-1, d)]
        )
        values = self(shifted)
        plus, minus = values[: n * d].reshape(n, d, d), values[n * d :].reshape(n, d, d)
        return np.swapaxes((plus - minus) / (2.0 * self.epsilon), 1, 2)

    def orbit(self, start, steps):
        """`steps + 1` states from `start` `[N, dim]`: `[steps + 1, N, dim]`."""
        out = [np.asarray(start, "float64").reshape(-1, self.dim)]
        for _ in range(steps):
            out.append(self(out[-1]))
        return np.stack(out)
