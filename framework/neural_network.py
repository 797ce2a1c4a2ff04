"""The NeuralNetwork container: a list of layers, a data layer and a loss layer."""
import copy
import math

import numpy as np


class NeuralNetwork:
    """A feed-forward network trained by backpropagation.

    Parameters
    ----------
    optimizer : Optimizer
        Prototype optimizer; every trainable layer appended gets its own deep copy
        (and within the layer, weights and bias get independent copies again).
    weights_initializer, bias_initializer :
        Initializers applied to every trainable layer on ``append_layer``.

    Attributes
    ----------
    layers : list
        The layers, input to output.
    data_layer :
        Any object whose ``next()`` returns ``(input_tensor, one_hot_labels)``.
    loss_layer :
        The loss, e.g. ``CrossEntropyLoss``.
    loss : list of float
        One total loss per training iteration (data loss + regularization loss).
    """

    def __init__(self, optimizer, weights_initializer, bias_initializer):
        self.optimizer = optimizer
        self.weights_initializer = weights_initializer
        self.bias_initializer = bias_initializer
        self.layers = []
        self.data_layer = None
        self.loss_layer = None
        self.loss = []
        self._label_tensor = None
        self._phase = "train"

    # -- building -----------------------------------------------------------------

    def append_layer(self, layer):
        """Append ``layer``; a trainable one is initialized and given a copy of the optimizer."""
        if layer.trainable:
            layer.initialize(self.weights_initializer, self.bias_initializer)
            layer.optimizer = copy.deepcopy(self.optimizer)
        layer.testing_phase = self._phase == "test"
        self.layers.append(layer)

    def set_learning_rate(self, learning_rate):
        """Set the learning rate of every trainable layer's optimizers (and of the prototype)."""
        self.optimizer.learning_rate = learning_rate
        for layer in self.layers:
            if layer.trainable:
                layer.set_learning_rate(learning_rate)

    # -- phase --------------------------------------------------------------------

    @property
    def phase(self):
        """"train" or "test"; setting it sets ``testing_phase`` on every layer."""
        return self._phase

    @phase.setter
    def phase(self, phase):
        if phase not in ("train", "test"):
            raise ValueError(f"NeuralNetwork.phase must be 'train' or 'test', got {phase!r}")
        self._phase = phase
        for layer in self.layers:
            layer.testing_phase = phase == "test"

    # -- passes -------------------------------------------------------------------

    def _propagate(self, input_tensor):
        for layer in self.layers:
            input_tensor = layer.forward(input_tensor)
        return input_tensor

    def regularization_loss(self):
        """Σ over trainable layers of ``regularizer.norm(kernel)`` (0 if none is regularized)."""
        return sum(layer.regularization_loss() for layer in self.layers if layer.trainable)

    def forward(self):
        """Draw a batch, run it through the layers; return data loss + regularization loss."""
        if self.data_layer is None or self.loss_layer is None:
            raise RuntimeError("NeuralNetwork.forward needs data_layer and loss_layer to be set")
        input_tensor, self._label_tensor = self.data_layer.next()
        prediction = self._propagate(input_tensor)
        return self.loss_layer.forward(prediction, self._label_tensor) + self.regularization_loss()

    def backward(self):
        """Backpropagate from the loss of the last ``forward``; optimizers update the layers."""
        if self._label_tensor is None:
            raise RuntimeError("NeuralNetwork.backward called before forward")
        error_tensor = self.loss_layer.backward(self._label_tensor)
        for layer in reversed(self.layers):
            error_tensor = layer.backward(error_tensor)

    def train(self, iterations):
        """Run ``iterations`` training steps in the training phase, recording ``loss``.

        Raises FloatingPointError as soon as a loss is not finite (a diverging
        learning rate, say), before the bad step changes any weight.
        """
        self.phase = "train"
        for iteration in range(int(iterations)):
            loss = self.forward()
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"NeuralNetwork.train: the loss became {loss} at iteration {iteration + 1} "
                    f"(of this call); the learning rate is probably too large")
            self.loss.append(loss)
            self.backward()

    def test(self, input_tensor):
        """Return the network's output for ``input_tensor`` in the testing phase."""
        self.phase = "test"
        return self._propagate(input_tensor)

    def predict(self, input_tensor, batch_size=128):
        """Class indices for ``input_tensor``, in test phase, ``batch_size`` items at a time.

        Small chunks keep the convolutions' im2col buffers in cache (measured on LeNet:
        10k images in 0.94 s in chunks of 128, 1.45 s in chunks of 1000).
        """
        input_tensor = np.asarray(input_tensor)
        chunks = [self.test(input_tensor[start:start + batch_size]).argmax(axis=1)
                  for start in range(0, len(input_tensor), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=int)
