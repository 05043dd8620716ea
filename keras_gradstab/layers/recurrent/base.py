"""`ScanRNN`, the recurrent layer every cell of the library runs on, and `ScanCell`,
the protocol a cell implements to run on it faster.

A `ScanRNN` runs any Keras RNN cell (a layer with `state_size` and
`call(inputs, states)`) over time with `keras_gradstab.ops.scan`. A `ScanCell`
splits its step into three parts so that the layer can take work out of the loop:

1. `recurrent_constants(training, update_state)`: the tensors every step reads
   (recurrent matrices built from their parameters, biases), once per sequence;
2. `project_inputs(inputs)`: the input projections of every step in one product;
3. `step(projected, states, constants, recurrent_mask)`: the pure recurrence.

A cell may also name a fused recurrence (`fused_recurrence`): where the active
backend has one by that name (`keras_gradstab.backend.fused_recurrence`), the
whole loop, forward and backward, runs there instead of on the scan. A cell whose
backend kernel projects the inputs itself (a native GRU) implements
`fused_input_call`, which runs before `project_inputs`.
"""

import keras
from keras import ops

# Not public in Keras 3, but keras.layers.RNN.call draws the dropout masks before
# its loop only for cells that are instances of this class (needed on JAX).
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_gradstab import backend
from keras_gradstab.ops._checks import require_steps
from keras_gradstab.ops.scan import scan


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


class ScanCell(DropoutRNNCell, keras.layers.Layer):
    """Base class of a recurrent cell whose loop `ScanRNN` can take apart.

    A subclass sets `state_size` (an int or a list of ints) and `output_size`
    and implements `step`; it may override `project_inputs` (default: the inputs
    unchanged) and `recurrent_constants` (default: no constants). Its output at
    each step is its first state. The cell also works as an ordinary Keras cell
    (`keras.layers.RNN(cell)`): `call` composes the three parts for one step.

    Dropout: a subclass that sets `dropout` or `recurrent_dropout` (fractions in
    [0, 1)) and a `seed_generator` gets one input mask and one state mask per
    sequence; the state mask multiplies the state before the recurrent products
    (`recurrent_mask` of `step`).

    Fused recurrences: a subclass may set `fused_recurrence` to a name and
    implement `fused_call`; `ScanRNN` calls it with the backend's function of that
    name, when the backend has one, instead of scanning `step`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras import ops
    >>> import keras_gradstab as kg
    >>> class LeakyCell(kg.layers.ScanCell):
    ...     def __init__(self, units, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.units = self.state_size = self.output_size = units
    ...     def build(self, input_shape):
    ...         self.kernel = self.add_weight(shape=(input_shape[-1], self.units))
    ...     def project_inputs(self, inputs):
    ...         return ops.matmul(inputs, self.kernel)
    ...     def step(self, projected, states, constants, recurrent_mask=None):
    ...         return [0.5 * states[0] + ops.tanh(projected)]
    >>> layer = kg.layers.ScanRNN(LeakyCell(4), return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    dropout = 0.0
    recurrent_dropout = 0.0
    fused_recurrence = None

    def project_inputs(self, inputs):
        """The part of every step that reads only its input, on `[..., input_dim]`."""
        return inputs

    def recurrent_constants(self, training=False, update_state=False):
        """The tensors `step` reads, as a dict, built once per sequence.

        `step` must read these tensors, never the cell's variables. With
        `update_state=True` (once per training call of `ScanRNN`) a cell may
        advance non-trainable state it keeps across calls.
        """
        return {}

    def step(self, projected, states, constants, recurrent_mask=None):
        """One step: the list of new states from the projected input and the states."""
        raise NotImplementedError(f"{type(self).__name__} must implement `step`.")

    def fused_call(self, function, projected, states, constants, mask, recurrent_mask):
        """Runs the whole loop with the backend's fused `function`.

        Args:
            function: `keras_gradstab.backend.fused_recurrence[self.fused_recurrence]`.
            projected: `[time, batch, ...]`, the projected inputs in processing order.
            states: the list of initial states.
            constants: the dict of `recurrent_constants`.
            mask: `None` or a boolean `[time, batch, 1]`; a masked step keeps the states.
            recurrent_mask: `None` or the state's dropout mask.

        Returns:
            `(outputs, final_states)` with `outputs` `[time, batch, output_size]`,
            or `None` to run the scan instead.
        """
        return None

    def fused_input_call(self, fused_recurrence, inputs, states, constants, mask, recurrent_mask):
        """Runs the whole loop on a backend kernel that projects the inputs itself.

        Called before `project_inputs`, with the arguments of `fused_call` except
        `inputs` (`[time, batch, input_dim]`, in processing order) in place of the
        projections and `fused_recurrence` (the backend's mapping) in place of
        one function. Returns `(outputs, final_states)` or `None` (the default) to
        go on with `project_inputs` and `fused_call` or the scan.
        """
        return None

    def call(self, inputs, states, training=False):
        states = _as_list(states)
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(states[0])
        constants = self.recurrent_constants(training=training, update_state=False)
        new_states = self.step(self.project_inputs(inputs), states, constants, recurrent_mask)
        return new_states[0], new_states

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ScanRNN(keras.layers.RNN):
    """`keras.layers.RNN` whose time loop runs on `keras_gradstab.ops.scan`.

    A drop-in for `keras.layers.RNN(cell)`: every argument and behaviour of
    `keras.layers.RNN` (`return_sequences`, `return_state`, `go_backwards`,
    `stateful`, masks, dropout, `initial_state`, `keras.layers.Bidirectional`,
    serialization) is Keras's own; only the loop differs. It runs on the
    backend's loop primitive (`jax.lax.scan`, `tf.while_loop`, a torch loop).

    - Any Keras cell runs one `ops.scan` step per time step calling the cell's
      `call`, with the cell's variables read once per call.
    - A `ScanCell` has its input projections of all steps computed in one
      product before the loop and its recurrent constants built once per
      sequence; the loop runs only its `step`.
    - A `ScanCell` that names a fused recurrence the backend has (on torch:
      the library's cells) runs the whole loop there, with a backward pass
      through time written for that cell.

    `unroll` is accepted for compatibility and ignored: the scan is the loop.

    Args:
        cell: a Keras RNN cell instance (`state_size` and `call(inputs, states)`),
            a `ScanCell`, or a list of cells (stacked as `keras.layers.RNN` does).
        return_sequences: return every step's output, not only the last.
        return_state: also return the last states.
        go_backwards: process the sequence in reverse (outputs in processing order).
        stateful: carry the last states of batch i into batch i.
        unroll: ignored.
        zero_output_for_mask: output zeros at masked steps (else the last output).
        **kwargs: base layer arguments.

    Call arguments:
        sequences: `[batch, timesteps, features]`.
        initial_state: optional list of initial states.
        mask: optional boolean `[batch, timesteps]`.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> layer = kg.layers.ScanRNN(keras.layers.GRUCell(8), return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    def call(self, sequences, initial_state=None, mask=None, training=False):
        require_steps(type(self).__name__, sequences, (1,))
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)
            if self.go_backwards:
                mask = ops.flip(mask, 0)
        if isinstance(self.cell, ScanCell):
            return self._scan_cell_loop(sequences, _as_list(initial_state), mask, training)
        return self._cell_call_loop(sequences, initial_state, mask, training)

    def _outputs(self, outputs, last_state):
        """`(last_output, outputs, ...)` from time-major outputs."""
        if self.return_sequences:
            return outputs[-1], ops.transpose(outputs, (1, 0, 2))
        return last_state, ops.expand_dims(last_state, 1)

    def _scan_cell_loop(self, sequences, states, mask, training):
        cell = self.cell
        constants = cell.recurrent_constants(training=training, update_state=bool(training))
        # Dropout masks: drawn by RNN.call before the loop, one per sequence.
        if training and cell.dropout > 0:
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0:
            recurrent_mask = cell.get_recurrent_dropout_mask(states[0])
        # Time-major inputs in processing order (Keras returns the outputs in
        # processing order); the inputs are transposed and flipped, not the wider
        # projections.
        inputs = ops.transpose(sequences, (1, 0, 2))
        if self.go_backwards:
            inputs = ops.flip(inputs, 0)
        zero_output = self.zero_output_for_mask and mask is not None
        result = cell.fused_input_call(
            backend.fused_recurrence, inputs, states, constants, mask, recurrent_mask
        )
        if result is None:
            # The input projections of every step in one product.
            projected = cell.project_inputs(inputs)
            fused = backend.fused_recurrence.get(cell.fused_recurrence)
            if fused is not None:
                result = cell.fused_call(fused, projected, states, constants, mask, recurrent_mask)
        if result is not None:
            outputs, states = result
            if zero_output:
                outputs = ops.where(mask, outputs, ops.zeros_like(outputs))
            if not self.return_sequences:
                outputs = None
        else:
            want_sequences = self.return_sequences

            def step(carry, x):
                new = cell.step(x["x"], carry, constants, recurrent_mask)
                if "mask" in x:
                    new = [ops.where(x["mask"], n, c) for n, c in zip(new, carry)]
                output = new[0]
                if zero_output:
                    output = ops.where(x["mask"], output, ops.zeros_like(output))
                return new, (output if want_sequences else None)

            xs = {"x": projected}
            if mask is not None:
                xs["mask"] = mask
            states, outputs = scan(step, states, xs)
        last_output, outputs = self._outputs(outputs, states[0])
        return last_output, outputs, states

    def _cell_call_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        nested = isinstance(initial_state, (list, tuple))
        kwargs = {}
        if isinstance(cell, keras.layers.Layer) and cell._call_has_training_arg:
            kwargs["training"] = training
        xs = {"x": ops.transpose(sequences, (1, 0, 2))}
        if self.go_backwards:
            xs["x"] = ops.flip(xs["x"], 0)
        if mask is not None:
            xs["mask"] = mask
        zero_output = self.zero_output_for_mask
        want_sequences = self.return_sequences
        output_size = getattr(cell, "output_size", None)
        if output_size is None:
            output_size = keras.tree.flatten(cell.state_size)[0]
        previous = ops.zeros((ops.shape(sequences)[0], output_size), dtype=self.compute_dtype)

        def step(carry, x):
            states, previous = carry
            output, new_states = cell.call(x["x"], states, **kwargs)
            if nested and not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            new_states = keras.tree.map_structure(
                lambda new, old: ops.cast(new, old.dtype), new_states, states
            )
            output = ops.cast(output, previous.dtype)
            if "mask" in x:
                keep = x["mask"]
                new_states = keras.tree.map_structure(
                    lambda new, old: ops.where(keep, new, old), new_states, states
                )
                output = ops.where(
                    keep, output, ops.zeros_like(output) if zero_output else previous
                )
            return (new_states, output), (output if want_sequences else None)

        (states, last), outputs = scan(step, (initial_state, previous), xs)
        if want_sequences:
            return outputs[-1], ops.transpose(outputs, (1, 0, 2)), states
        return last, ops.expand_dims(last, 1), states


class CellArgumentsRNN(ScanRNN):
    """A `ScanRNN` that builds its own cell from its arguments (like `keras.layers.GRU`).

    A subclass names its `cell_class`, the cell's argument names `cell_keys` (they
    are the layer's arguments and config keys too) and `cell_name`. Positional
    arguments and the keyword arguments in `cell_keys` build the cell; the others
    go to `keras.layers.RNN`.
    """

    cell_class = None
    cell_keys = ()
    cell_name = None

    def __init__(
        self,
        *cell_args,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        cell_kwargs = {key: kwargs.pop(key) for key in self.cell_keys if key in kwargs}
        cell = self.cell_class(
            *cell_args,
            **cell_kwargs,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def get_config(self):
        """RNN's own keys plus the cell's arguments, without `cell`."""
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        return {**config, **{key: cell_config[key] for key in self.cell_keys}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
