"""The loss layer: cross entropy on SoftMax probabilities."""
import numpy as np

_EPS = np.finfo(np.float64).eps


class CrossEntropyLoss:
    """Cross entropy of one-hot labels y and predicted probabilities ŷ.

    forward:  L = −Σ_b Σ_k y_bk · log(ŷ_bk + eps)        (reduction="sum", the exercise's)
              L = −(1/B) Σ_b Σ_k y_bk · log(ŷ_bk + eps)  (reduction="mean")
    backward: E = −y / ŷ                                  (divided by B for "mean")

    ``eps`` is float64's machine epsilon and sits in the forward pass's log only, where it
    keeps log(0) finite. It stays out of the division: a confidently wrong prediction has
    ŷ ≈ 1e-44 for the right class, and −y/(ŷ + eps) would then be ~1e-16 times too small,
    so that SoftMax's backward pass would hand back ~0 instead of ŷ − y and the network
    would learn nothing from its worst mistakes. An eps of the prediction's own precision
    (1.2e-7 for float32) is as wrong. Where y is 0, E is 0 whatever ŷ is (the term y·log ŷ
    does not depend on ŷ), and an ŷ below the smallest normal number of its dtype (0 after
    an underflow, or a subnormal such as 1e-44 in float32, whose reciprocal would overflow)
    is read as that number, ``np.finfo(dtype).tiny``, so E is always finite.

    Chained with SoftMax, ∂L/∂x = ŷ − y (divided by B for "mean"): ``logits_gradient``
    returns that directly. ``NeuralNetwork`` uses it when SoftMax is its last layer, as
    PyTorch's cross entropy on logits does, because only that form stays finite when ŷ
    underflows to 0 (a gap of ~750 in float64, ~100 in float32).

    The prediction is cached for ``backward``.
    """

    def __init__(self, reduction="sum"):
        if reduction not in ("sum", "mean"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.prediction_tensor = None

    def forward(self, prediction_tensor, label_tensor):
        """The loss of a batch.

        Parameters
        ----------
        prediction_tensor : numpy.ndarray of shape (B, classes), float64 or float32
            ŷ, probabilities (a SoftMax output). Cached as ``self.prediction_tensor``
            before your code runs.
        label_tensor : numpy.ndarray of shape (B, classes)
            y, one-hot labels.

        Returns
        -------
        float
            L = −Σ y · log(ŷ + eps), divided by B for ``reduction="mean"``, as a Python
            float (``float(...)``), not a NumPy scalar. Put eps (float64's machine epsilon,
            ``_EPS``, in the prediction's dtype) inside the log only.
        """
        prediction_tensor = np.asarray(prediction_tensor)
        self._check_label(label_tensor, prediction_tensor.shape, "forward")
        self.prediction_tensor = prediction_tensor
        # BEGIN SOLUTION
        eps = prediction_tensor.dtype.type(_EPS)
        loss = -np.sum(label_tensor * np.log(prediction_tensor + eps))
        if self.reduction == "mean":
            loss = loss / prediction_tensor.shape[0]
        return float(loss)
        # END SOLUTION

    def backward(self, label_tensor):
        """∂L/∂ŷ for the prediction of the last ``forward``.

        Write E = −y/ŷ into ``error_tensor``: the stub keeps the line after your code that
        divides it by B for ``reduction="mean"`` and returns it. No eps in the division
        (the class docstring says why); where y is 0, E is 0; an ŷ below
        ``np.finfo(ŷ.dtype).tiny`` is read as that number.

        Parameters
        ----------
        label_tensor : numpy.ndarray of shape (B, classes)
            y, the one-hot labels given to ``forward``.

        Returns
        -------
        numpy.ndarray of shape (B, classes), the prediction's dtype
            E = −y/ŷ (divided by B for ``reduction="mean"``), finite everywhere.
        """
        if self.prediction_tensor is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        prediction = self.prediction_tensor
        self._check_label(label_tensor, prediction.shape, "backward")
        # BEGIN SOLUTION
        # ŷ below the smallest normal number (an underflow) is read as that number, so that
        # −y/ŷ stays finite; above it, which is wherever ŷ is representable, nothing changes.
        smallest = np.finfo(prediction.dtype).tiny
        error_tensor = np.zeros_like(prediction)
        np.divide(-np.asarray(label_tensor, dtype=prediction.dtype), np.maximum(prediction, smallest),
                  out=error_tensor, where=np.asarray(label_tensor) != 0)
        # END SOLUTION
        return self._reduced(error_tensor)  # kept in the stub: divides by B for reduction="mean"

    def logits_gradient(self, label_tensor):
        """∂L/∂x for the scores x that a SoftMax turned into the cached prediction: ŷ − y.

        The product of SoftMax's Jacobian diag(ŷ) − ŷŷᵀ with −y/ŷ, worked out by hand
        (Σ_k y_k = 1): finite for any ŷ, including the exact zeros of an underflow.

        Write ŷ − y into ``gradient``: the stub keeps the line after your code that divides
        it by B for ``reduction="mean"`` and returns it.

        Parameters
        ----------
        label_tensor : numpy.ndarray of shape (B, classes)
            y, the one-hot labels given to ``forward``.

        Returns
        -------
        numpy.ndarray of shape (B, classes), the prediction's dtype
            ŷ − y (divided by B for ``reduction="mean"``).
        """
        if self.prediction_tensor is None:
            raise RuntimeError("CrossEntropyLoss.logits_gradient called before forward")
        prediction = self.prediction_tensor
        self._check_label(label_tensor, prediction.shape, "logits_gradient")
        # BEGIN SOLUTION
        gradient = prediction - np.asarray(label_tensor, dtype=prediction.dtype)
        # END SOLUTION
        return self._reduced(gradient)  # kept in the stub: divides by B for reduction="mean"

    def _reduced(self, error_tensor):
        if self.reduction == "mean":
            error_tensor /= error_tensor.shape[0]
        return error_tensor

    @staticmethod
    def _check_label(label_tensor, expected_shape, method):
        if np.shape(label_tensor) != tuple(expected_shape):
            raise ValueError(f"CrossEntropyLoss.{method}: expected one-hot labels of shape "
                             f"{tuple(expected_shape)} (the prediction's shape), "
                             f"got {np.shape(label_tensor)}")
