"""The base classes every layer derives from, and the checks the layers share.

``BaseLayer`` carries what all layers share: the ``trainable`` flag, the
``testing_phase`` flag and a readable name for error messages. ``SoftMaxLayer``
marks a SoftMax output, whichever package it comes from (``layers`` or
``layers.fast``).

``TrainableLayer`` adds the parameter bookkeeping of layers with a kernel and a
bias: the ``weights``/``bias`` properties, their gradients, the ``optimizer``
property (which hands weights and bias *independent* deep copies of the
optimizer, so they never share momentum or Adam moments), and the single place
where a regularizer touches a layer (:meth:`TrainableLayer.regularization_loss`).
"""
import copy
import math

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
        replica buffers of its own: the fast ``Conv`` does.
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
        # Advice that works: only float32 and float64 networks exist, so other precisions
        # (float16, complex) are told to convert, never to build a network of their dtype.
        if tensor.dtype in (np.float32, np.float64):
            advice = f"build the network with dtype={tensor.dtype.name} or convert the input"
        else:
            advice = f"convert the input with .astype(np.{np.dtype(dtype).name})"
        raise TypeError(f"{layer_name}: expected {np.dtype(dtype).name} input (the dtype of its "
                        f"parameters), got {tensor.dtype.name}; {advice}")
    return tensor.astype(dtype)


def positive_ints(owner, name, value, lengths, allow_int=True):
    """``value`` as a tuple of positive ints whose length is one of ``lengths``.

    An int counts as a one-entry sequence when ``allow_int``; anything else (a float,
    a bool, a wrong length, a non-sequence) is a ValueError naming ``owner`` and ``name``.
    """
    entries = (value,) if allow_int and isinstance(value, (int, np.integer)) else value
    try:
        entries = tuple(entries)
    except TypeError:
        entries = ()
    if len(entries) not in lengths:
        counts = " or ".join(str(length) for length in lengths)
        raise ValueError(f"{owner}: {name} must be {'an int or ' if allow_int else ''}a sequence of "
                         f"{counts} positive ints, got {value!r}")
    return tuple(positive_int(owner, f"every entry of {name}", entry) for entry in entries)


def stride_per_axis(owner, stride_shape, spatial_dimensions):
    """A stride for each spatial axis; an int or a one-element sequence applies to every axis."""
    strides = positive_ints(owner, "stride_shape", stride_shape, sorted({1, spatial_dimensions}))
    return strides * spatial_dimensions if len(strides) == 1 else strides


def same_padding(kernel_size):
    """Zeros (before, after) on an axis so that a stride-1 output keeps the input's size.

    PyTorch's ``padding="same"`` convention: ``(m - 1) // 2`` before and ``m // 2`` after,
    so the extra zero of an even kernel goes after the data.
    """
    return (kernel_size - 1) // 2, kernel_size // 2


def check_image_input(layer_name, shape, channels, spatial_dimensions, what):
    """A ValueError naming the layer unless ``shape`` is that of a non-empty ``(batch, channels, ...)``
    input with ``spatial_dimensions`` spatial axes (``channels`` None: any channel count).
    ``what`` describes the layer's setting for the message, e.g. "a 2-D kernel (3, 5, 5)"."""
    shape = tuple(shape)
    channel_text = "channels" if channels is None else str(channels)
    layout = f"(batch, {channel_text}, y, x)" if spatial_dimensions == 2 else f"(batch, {channel_text}, x)"
    if len(shape) != 2 + spatial_dimensions:
        raise ValueError(f"{layer_name}: {what} expects input of shape {layout}, "
                         f"got shape {shape} ({len(shape)} axes)")
    if channels is not None and shape[1] != channels:
        raise ValueError(f"{layer_name}: expected input with {channels} channel(s), shape {layout}, "
                         f"got {shape[1]} channel(s) in shape {shape}")
    if 0 in shape:
        raise ValueError(f"{layer_name}: expected a non-empty input of shape {layout}, got shape {shape}")


def check_feature_maps(layer_name, shape):
    """A ValueError naming the layer unless ``shape`` is that of feature maps (batch, channels, y, x)."""
    if len(shape) != 4:
        raise ValueError(f"{layer_name}: expected input of shape (batch, channels, y, x), got {tuple(shape)}")


def pooling_output_shape(layer_name, input_shape, pooling_shape, stride_shape):
    """The output shape of "valid" pooling, after checking the input against the window."""
    check_image_input(layer_name, input_shape, None, len(pooling_shape),
                      f"a {len(pooling_shape)}-D pooling window {pooling_shape}")
    if any(size < window for size, window in zip(input_shape[2:], pooling_shape)):
        raise ValueError(f"{layer_name}: pooling window {pooling_shape} is larger than the input's "
                         f"spatial shape {tuple(input_shape[2:])} (input shape {tuple(input_shape)})")
    counts = tuple((size - window) // stride + 1
                   for size, window, stride in zip(input_shape[2:], pooling_shape, stride_shape))
    return tuple(input_shape[:2]) + counts


def kept_fraction(owner, probability):
    """A Dropout keep probability as a float in (0, 1]; a clear error otherwise."""
    if isinstance(probability, (bool, np.bool_)):
        raise TypeError(f"{owner}: probability must be a number in (0, 1], got {probability!r}")
    try:
        value = float(probability)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: probability must be a number in (0, 1], got {probability!r}") from None
    if not (np.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"{owner}: probability is the fraction of units kept and must lie in (0, 1], "
                         f"got {probability!r}")
    return value


def check_batch_norm_input(layer_name, shape, channels, training=False):
    """A ValueError naming the layer unless ``shape`` is (batch, channels[, ...]) with 0 to 2
    spatial axes, and, in training, holds at least one value per channel: the moments of an
    empty batch are NaN, and they would turn the running moments, and every later test
    output, into NaN."""
    if len(shape) not in (2, 3, 4):
        raise ValueError(f"{layer_name}: expected input of shape (batch, {channels}) or "
                         f"(batch, {channels}, y, x), got {shape}")
    if shape[1] != channels:
        raise ValueError(f"{layer_name}: expected {channels} channels on axis 1, got "
                         f"{shape[1]} (input shape {shape})")
    if training and math.prod(shape) == 0:
        raise ValueError(f"{layer_name}: expected a training batch with at least one value per "
                         f"channel, got input of shape {shape}")


def check_reformat(layer_name, shape, image_shape):
    """The image shape ``reformat`` turns vectors into (None for an image), after checking ``shape``."""
    if len(shape) > 2:
        return None
    if len(shape) != 2:
        raise ValueError(f"{layer_name}.reformat: expected an image (B, H, M, N) or vectors "
                         f"(B·M·N, H), got shape {shape}")
    if image_shape is None:
        raise RuntimeError(f"{layer_name}.reformat: turning vectors back into an image needs the image "
                           f"shape: pass it, or run forward(image) first")
    batch, channels = image_shape[:2]
    positions = math.prod(image_shape[2:])
    if shape != (batch * positions, channels):
        raise ValueError(f"{layer_name}.reformat: expected vectors of shape ({batch * positions}, "
                         f"{channels}) for the image shape {image_shape}, got {shape}")
    return image_shape


class SoftMaxLayer(BaseLayer):
    """What every SoftMax layer is (the teaching one and the fast one).

    ``NeuralNetwork`` recognises a SoftMax output by this class: behind it, a loss that
    can hand back the gradient with respect to SoftMax's input (ŷ − y) lets the network
    skip SoftMax's own backward pass.
    """


class TrainableLayer(BaseLayer):
    """A layer with a kernel (``weights``) and a ``bias`` trained by an optimizer.

    Subclasses set ``self._weights`` and ``self._bias`` in their constructor
    (``start_uniform`` draws both), implement ``parameter_shapes`` (what their
    constructor arguments call for) and ``_fans``, call ``check_parameters()`` at the
    start of ``forward`` and ``update_parameters()`` at the end of ``backward``.

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

    def start_uniform(self, rng=None):
        """Weights and bias drawn from UniformRandom [0, 1), as the exercise framework starts its
        layers, so a layer is usable as soon as it is constructed. ``rng``: a Generator, or None
        for NumPy's global random state."""
        weights_shape, bias_shape = self.parameter_shapes()
        source = np.random if rng is None else rng
        self._weights = source.uniform(0.0, 1.0, size=weights_shape).astype(self.dtype)
        self._bias = source.uniform(0.0, 1.0, size=bias_shape).astype(self.dtype)

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

    def update_parameters(self):
        """Apply the optimizers (if set) to weights and bias: the last step of ``backward``,
        after the input gradient (which needs the weights of the forward pass)."""
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
