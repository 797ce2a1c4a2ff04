"""The loss layer: cross entropy on SoftMax probabilities."""
import numpy as np

_EPS = np.finfo(np.float64).eps


class CrossEntropyLoss:
    """Cross entropy of one-hot labels y and predicted probabilities ŷ.

    forward:  L = −Σ_b Σ_k y_bk · log(ŷ_bk + eps)        (reduction="sum", the exercise's)
              L = −(1/B) Σ_b Σ_k y_bk · log(ŷ_bk + eps)  (reduction="mean")
    backward: E = −y / (ŷ + eps)                          (divided by B for "mean")

    ``eps`` is float64's machine epsilon; it keeps log(0) and the division finite.
    The prediction is cached for ``backward``.
    """

    def __init__(self, reduction="sum"):
        if reduction not in ("sum", "mean"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.prediction_tensor = None

    def forward(self, prediction_tensor, label_tensor):
        prediction_tensor = np.asarray(prediction_tensor)
        self._check_label(label_tensor, prediction_tensor.shape, "forward")
        self.prediction_tensor = prediction_tensor
        eps = prediction_tensor.dtype.type(_EPS)
        loss = -np.sum(label_tensor * np.log(prediction_tensor + eps))
        if self.reduction == "mean":
            loss = loss / prediction_tensor.shape[0]
        return float(loss)

    def backward(self, label_tensor):
        if self.prediction_tensor is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        prediction = self.prediction_tensor
        self._check_label(label_tensor, prediction.shape, "backward")
        eps = prediction.dtype.type(_EPS)
        error_tensor = -(label_tensor / (prediction + eps)).astype(prediction.dtype, copy=False)
        if self.reduction == "mean":
            error_tensor /= prediction.shape[0]
        return error_tensor

    @staticmethod
    def _check_label(label_tensor, expected_shape, method):
        if np.shape(label_tensor) != tuple(expected_shape):
            raise ValueError(f"CrossEntropyLoss.{method}: expected one-hot labels of shape "
                             f"{tuple(expected_shape)} (the prediction's shape), "
                             f"got {np.shape(label_tensor)}")
