"""The two base classes every layer derives from.

``BaseLayer`` carries what all layers share: the ``trainable`` flag, the
``testing_phase`` flag and a readable name for error messages.

``TrainableLayer`` adds the parameter bookkeeping of layers with a kernel and a
bias: the ``weights``/``bias`` properties, their gradients, the ``optimizer``
property (which hands weights and bias *independent* deep copies of the
optimizer, so they never share momentum or Adam moments), and the single place
where a regularizer touches a layer (:meth:`TrainableLayer.regularization_loss`).
"""
import copy

import numpy as np


class BaseLayer:
    """A layer: ``forward(input_tensor)`` and ``backward(error_tensor)``.

    Attributes
    ----------
    trainable : bool
        Whether the layer owns parameters that an optimizer updates.
    testing_phase : bool
        False while training, True while testing; only Dropout and
        BatchNormalization behave differently, but every layer carries it so a
        network can switch all of them at once.
    """

    trainable = False

    def __init__(self):
        self.testing_phase = False

    @property
    def name(self):
        return type(self).__name__

    def forward(self, input_tensor):
        raise NotImplementedError(f"{self.name} does not implement forward")

    def backward(self, error_tensor):
        raise NotImplementedError(f"{self.name} does not implement backward")

    def replica(self):
        """A copy that another thread can run testing-phase forward passes on, beside this layer.

        It shares the parameters (read, never written, in the testing phase) and gets its
        own caches: a shallow copy, whose attributes are its own, so a forward pass that
        *assigns* its caches (``self.output = ...``) never touches the original's. A layer
        whose forward pass writes *into* arrays it keeps (a reused buffer) must give the
        replica buffers of its own: ``Conv`` does.
        """
        return copy.copy(self)

    # -- validation helpers shared by all layers --------------------------------

    def _cached(self, attribute):
        """Return a value cached by ``forward``; a clear error if forward never ran."""
        value = getattr(self, attribute, None)
        if value is None:
            raise RuntimeError(f"{self.name}.backward called before forward: "
                               f"run forward(input_tensor) first")
        return value

    def _check_error_shape(self, error_tensor, expected_shape):
        if np.shape(error_tensor) != tuple(expected_shape):
            raise ValueError(f"{self.name}.backward: expected error_tensor of shape "
                             f"{tuple(expected_shape)} (the shape of the forward output), "
                             f"got {np.shape(error_tensor)}")


def positive_int(owner, name, value):
    """``value`` as an int if it is a positive integer (not a bool); a ValueError naming ``owner`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def as_floating(layer_name, tensor, dtype):
    """Return ``tensor`` as an array of the layer's floating ``dtype``.

    Integer or boolean input is converted; floating input of another precision is
    refused, because converting it silently would either lose precision or
    upcast a float32 network to float64 (slow) without anyone noticing.
    """
    tensor = np.asarray(tensor)
    if tensor.dtype == dtype:
        return tensor
    if np.issubdtype(tensor.dtype, np.floating) or np.issubdtype(tensor.dtype, np.complexfloating):
        raise TypeError(f"{layer_name}: expected {np.dtype(dtype).name} input (the dtype of its "
                        f"parameters), got {tensor.dtype.name}; build the network with "
                        f"dtype={tensor.dtype.name} or convert the input")
    return tensor.astype(dtype)


class TrainableLayer(BaseLayer):
    """A layer with a kernel (``weights``) and a ``bias`` trained by an optimizer.

    Subclasses set ``self._weights`` and ``self._bias`` in their constructor, implement
    ``parameter_shapes`` (what their constructor arguments call for) and ``_fans``, and
    call ``check_parameters()`` at the start of ``forward``.

    The optimizer property stores two deep copies: one for the weights and one
    for the bias. The bias copy never carries a regularizer, because only
    kernels are regularized; layers whose kernel must not be
    regularized either (BatchNormalization) set ``regularize_weights = False``.
    """

    trainable = True
    regularize_weights = True

    def __init__(self, dtype=np.float64):
        super().__init__()
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{self.name}: dtype must be float32 or float64, got {self.dtype.name}")
        self._weights = None
        self._bias = None
        self.gradient_weights = None
        self.gradient_bias = None
        self._weights_optimizer = None
        self._bias_optimizer = None

    # -- parameters -------------------------------------------------------------
    #
    # Assignment accepts any array of numbers and converts it to the layer's dtype, without
    # looking at its shape: exercise code assigns a (3, 3) kernel and then reshapes it through
    # the property (``conv.weights = np.expand_dims(conv.weights, 0)``). The shape is checked
    # where it matters, when the layer next runs forward (``check_parameters``) and when a
    # network is saved, so a parameter left at a wrong shape never gives a silent wrong result.

    @property
    def weights(self):
        return self._weights

    @weights.setter
    def weights(self, value):
        self._weights = self._as_parameter("weights", value)

    @property
    def bias(self):
        return self._bias

    @bias.setter
    def bias(self, value):
        self._bias = self._as_parameter("bias", value)

    def _as_parameter(self, what, value):
        try:
            return np.array(value, dtype=self.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"{self.name}: expected {what} as an array of numbers, "
                            f"got {type(value).__name__}") from None

    def parameter_shapes(self):
        """``(weights_shape, bias_shape)`` that the layer's constructor arguments call for."""
        raise NotImplementedError

    def check_parameters(self):
        """A ValueError naming the layer if ``weights`` or ``bias`` has not the shape it needs."""
        for what, value, expected in zip(("weights", "bias"), (self._weights, self._bias),
                                         self.parameter_shapes()):
            if np.shape(value) != tuple(expected):
                raise ValueError(f"{self.name}: expected {what} of shape {tuple(expected)}, "
                                 f"got {np.shape(value)}")

    def initialize(self, weights_initializer, bias_initializer):
        """Draw new weights and bias from the initializers.

        The initializers receive the layer's ``fan_in`` and ``fan_out``.
        """
        fan_in, fan_out = self._fans()
        weights_shape, bias_shape = self.parameter_shapes()
        self._weights = np.asarray(weights_initializer.initialize(weights_shape, fan_in, fan_out),
                                   dtype=self.dtype)
        self._bias = np.asarray(bias_initializer.initialize(bias_shape, fan_in, fan_out),
                                dtype=self.dtype)

    def _fans(self):
        raise NotImplementedError

    # -- optimizer --------------------------------------------------------------

    @property
    def optimizer(self):
        return self._weights_optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        if optimizer is None:
            self._weights_optimizer = self._bias_optimizer = None
            return
        self._weights_optimizer = copy.deepcopy(optimizer)
        self._bias_optimizer = copy.deepcopy(optimizer)
        self._bias_optimizer.regularizer = None
        if not self.regularize_weights:
            self._weights_optimizer.regularizer = None

    @property
    def weights_optimizer(self):
        """The optimizer (and its state) that updates ``weights``, or None."""
        return self._weights_optimizer

    @property
    def bias_optimizer(self):
        """The optimizer (and its state) that updates ``bias``, or None; it never regularizes."""
        return self._bias_optimizer

    def restore_optimizers(self, weights_optimizer, bias_optimizer):
        """Install the two optimizers exactly as given, state included (no copies): for
        loading a checkpoint. Setting ``optimizer`` instead copies one prototype twice."""
        self._weights_optimizer = weights_optimizer
        self._bias_optimizer = bias_optimizer

    def set_learning_rate(self, learning_rate):
        """Set the learning rate of both optimizer copies (for schedules); state is kept."""
        for optimizer in (self._weights_optimizer, self._bias_optimizer):
            if optimizer is not None:
                optimizer.learning_rate = learning_rate

    def _update_parameters(self):
        """Apply the optimizers (if set) to weights and bias; called at the end of backward."""
        if self._weights_optimizer is not None:
            self._weights = self._weights_optimizer.calculate_update(self._weights, self.gradient_weights)
        if self._bias_optimizer is not None:
            self._bias = self._bias_optimizer.calculate_update(self._bias, self.gradient_bias)

    # -- regularization ---------------------------------------------------------

    @property
    def regularizer(self):
        """The regularizer acting on this layer's kernel, or None."""
        if self._weights_optimizer is None:
            return None
        return self._weights_optimizer.regularizer

    def regularization_loss(self):
        """``regularizer.norm(weights)``, or 0.0 when the kernel is not regularized."""
        regularizer = self.regularizer
        return 0.0 if regularizer is None else float(regularizer.norm(self._weights))
