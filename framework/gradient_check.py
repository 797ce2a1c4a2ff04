"""Numerical gradient checking by central differences.

Point it at any layer::

    from framework.gradient_check import check_gradients
    differences = check_gradients(layer, input_tensor)
    # {'input': 3e-11, 'weights': 2e-11, 'bias': 1e-11}

How it works: draw a random upstream error E of the output's shape and define
the scalar f(x, W, b) = Σ forward(x) ⊙ E. Then ∂f/∂x is exactly what
``backward(E)`` returns, and ∂f/∂W, ∂f/∂b are ``gradient_weights`` and
``gradient_bias``. Each partial derivative is estimated numerically as

    ∂f/∂θ_i ≈ (f(θ + h e_i) − f(θ − h e_i)) / (2h)

and compared with the analytic one by the relative difference

    ‖analytic − numerical‖ / max(‖analytic‖ + ‖numerical‖, tiny)

which is ~1e-9 or smaller for a correct float64 layer and O(1) for a wrong one.

The checker works on a deep copy of the layer with its optimizer removed, so
neither the layer nor its optimizer state changes. A layer whose forward pass
is random (Dropout in training) needs the same randomness on every call: pass
``before_forward``, a function called with the copied layer before each forward
pass (for example to reset its ``rng``).
"""
import copy

import numpy as np

DEFAULT_STEP = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 3e-3}


def relative_difference(analytic, numerical):
    """‖analytic − numerical‖ / max(‖analytic‖ + ‖numerical‖, tiny)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numerical)
    return float(np.linalg.norm(analytic - numerical) / max(scale, np.finfo(np.float64).tiny))


def _numerical_gradient(objective, array, step, assign=None):
    """Central differences of ``objective()`` with respect to every entry of ``array``.

    ``array`` is changed in place and restored; with ``assign``, each changed copy is also
    handed to ``assign`` (how a layer's parameter is set: ``layer.weights = ...``), so the
    check reads only public attributes and works on any layer with that interface.
    """
    gradient = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        if assign is not None:
            assign(array)
        plus = objective()
        array[index] = original - step
        if assign is not None:
            assign(array)
        minus = objective()
        array[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    if assign is not None:
        assign(array)
    return gradient


def check_gradients(layer, input_tensor, error_tensor=None, step=None, rng=None,
                    before_forward=None, parameters=None):
    """Compare a layer's analytic gradients with central differences.

    Parameters
    ----------
    layer :
        Any layer with ``forward`` and ``backward``; trainable layers are also
        checked for ``weights`` and ``bias``.
    input_tensor : ndarray
        A small input (every entry is perturbed once, twice per entry of each parameter).
    error_tensor : ndarray, optional
        The upstream error E; by default standard normal, drawn from ``rng``.
    step : float, optional
        The difference step h; default 1e-6 for float64 and 3e-3 for float32.
    rng : numpy.random.Generator, optional
        Source of E; default ``np.random.default_rng(0)``.
    before_forward : callable, optional
        Called with the layer before every forward pass (see the module docstring).
    parameters : iterable of str, optional
        Which of "input", "weights", "bias" to check; default all that exist.

    Returns
    -------
    dict
        Relative difference per checked quantity.
    """
    layer = copy.deepcopy(layer)
    if getattr(layer, "trainable", False):
        layer.optimizer = None
    input_tensor = np.array(input_tensor, copy=True)
    if parameters is None:
        parameters = ["input"] + (["weights", "bias"] if getattr(layer, "trainable", False) else [])
    rng = np.random.default_rng(0) if rng is None else rng
    step = DEFAULT_STEP.get(input_tensor.dtype, 1e-6) if step is None else step

    def run_forward(tensor):
        if before_forward is not None:
            before_forward(layer)
        return layer.forward(tensor)

    output = run_forward(input_tensor)
    if error_tensor is None:
        error_tensor = rng.standard_normal(np.shape(output)).astype(output.dtype)

    def objective():
        return float(np.sum(np.asarray(run_forward(input_tensor), dtype=np.float64) * error_tensor))

    run_forward(input_tensor)
    input_gradient = layer.backward(error_tensor)
    analytic = {}
    if input_gradient is not None:  # None: the layer was told not to compute it (a first layer)
        analytic["input"] = np.array(input_gradient, copy=True)
    elif "input" in parameters:
        parameters = [name for name in parameters if name != "input"]
    if getattr(layer, "trainable", False):
        analytic["weights"] = np.array(layer.gradient_weights, copy=True)
        analytic["bias"] = np.array(layer.gradient_bias, copy=True)
    expected_shapes = {"input": np.shape(input_tensor), "weights": np.shape(getattr(layer, "weights", None)),
                       "bias": np.shape(getattr(layer, "bias", None))}
    for name, gradient in analytic.items():     # a wrong shape first, named, before any arithmetic
        if gradient.shape != expected_shapes[name]:
            attribute = "backward's result" if name == "input" else f"gradient_{name}"
            raise AssertionError(f"{type(layer).__name__}: {attribute} has shape {gradient.shape}, "
                                 f"expected {expected_shapes[name]} (the shape of {name})")

    differences = {}
    for name in parameters:
        if name == "input":
            numerical = _numerical_gradient(objective, input_tensor, step)
        else:
            numerical = _numerical_gradient(objective, np.array(getattr(layer, name), copy=True), step,
                                            assign=lambda values, name=name: setattr(layer, name, values.copy()))
        differences[name] = relative_difference(analytic[name], numerical)
    return differences


def check_loss_gradient(loss_layer, prediction, label_tensor, step=1e-6):
    """Relative difference between ``loss_layer.backward`` and central differences of its forward."""
    prediction = np.array(prediction, dtype=np.float64, copy=True)
    loss_layer = copy.deepcopy(loss_layer)
    loss_layer.forward(prediction, label_tensor)
    analytic = np.array(loss_layer.backward(label_tensor), copy=True)
    numerical = _numerical_gradient(lambda: loss_layer.forward(prediction, label_tensor), prediction, step)
    return relative_difference(analytic, numerical)


def assert_gradients(layer, input_tensor, tolerance=1e-7, **options):
    """Run :func:`check_gradients` and raise AssertionError naming every quantity above ``tolerance``."""
    differences = check_gradients(layer, input_tensor, **options)
    failed = {name: value for name, value in differences.items() if not value <= tolerance}
    if failed:
        details = ", ".join(f"{name}: {value:.3g}" for name, value in failed.items())
        raise AssertionError(f"{type(layer).__name__}: gradient check failed (tolerance {tolerance:g}): {details}")
    return differences
