"""Mutants of the solution: honest mistakes a student makes, each of which the part's tests must catch.

A mutant replaces one exact piece of a solution file (``original``, which must occur in it
exactly once) by ``replacement``. ``tests/test_mutants.py`` grades each mutated file with
``normnet exercise grade``: the part must earn 0 points. A mutant that earns points shows a
mistake the tests let through; the answer is a new test in the part's test file, never a
weaker mutant. ``mistake`` says in one line what the mutant models.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    part: str
    source: str
    original: str
    replacement: str
    mistake: str

    def apply(self, text):
        """``text`` (the solution file) with the mutation; ValueError unless ``original`` occurs once."""
        count = text.count(self.original)
        if count != 1:
            raise ValueError(f"mutant {self.name}: its original text occurs {count} times in {self.source}, "
                             f"expected once")
        return text.replace(self.original, self.replacement)


MUTANTS = (
    Mutant("fully_connected_transposed_weights_gradient", "FullyConnected", "layers/fully_connected.py",
           "self.gradient_weights = error_tensor.T @ input_tensor",
           "self.gradient_weights = input_tensor.T @ error_tensor",
           "∂L/∂W as xᵀE, of shape (input_size, output_size), instead of EᵀX"),
    Mutant("fully_connected_no_update_parameters", "FullyConnected", "layers/fully_connected.py",
           "        self.update_parameters()\n", "",
           "the call to update_parameters() deleted: the optimizer never moves the weights"),
    Mutant("fully_connected_updates_before_the_input_gradient", "FullyConnected", "layers/fully_connected.py",
           "        previous_error = error_tensor @ self.weights\n",
           "        self.update_parameters()\n        previous_error = error_tensor @ self.weights\n",
           "∂L/∂x computed with the weights already updated"),
    Mutant("relu_mask_includes_zero", "ReLU", "layers/relu.py",
           "self.positive = input_tensor > 0", "self.positive = input_tensor >= 0",
           "the mask x ≥ 0: derivative 1 at exactly 0, where the docstring promises 0"),
    Mutant("relu_backward_without_mask", "ReLU", "layers/relu.py",
           "return error_tensor * positive", "return error_tensor",
           "backward passes the error everywhere, forgetting the mask"),
    Mutant("softmax_without_max_subtraction", "SoftMax", "layers/softmax.py",
           "shifted = input_tensor - input_tensor.max(axis=1, keepdims=True)", "shifted = input_tensor",
           "exp of the raw scores: overflows (inf/inf = NaN) for large scores"),
    Mutant("softmax_backward_diagonal_only", "SoftMax", "layers/softmax.py",
           "return output * (error_tensor - weighted_sum)", "return output * (1 - output) * error_tensor",
           "only the Jacobian's diagonal ŷ(1 − ŷ): forgets that every score moves every probability"),
    Mutant("tanh_derivative_without_square", "TanH", "layers/tanh.py",
           "return error_tensor * (1 - output ** 2)", "return error_tensor * (1 - output)",
           "derivative 1 − y instead of 1 − y²"),
    Mutant("sigmoid_derivative_without_one_minus", "Sigmoid", "layers/sigmoid.py",
           "return error_tensor * output * (1 - output)", "return error_tensor * output",
           "derivative y instead of y(1 − y)"),
    Mutant("flatten_loses_the_batch_axis", "Flatten", "layers/flatten.py",
           "return input_tensor.reshape(input_tensor.shape[0], -1)", "return input_tensor.reshape(-1)",
           "every batch item flattened into one long vector: the batch axis is gone"),
    Mutant("conv_bias_gradient_per_batch_item", "Conv", "layers/conv.py",
           "self.gradient_bias = error_rows.sum(axis=1)", "self.gradient_bias = error_rows.mean(axis=1)",
           "∂L/∂b averaged over batch and positions instead of summed"),
    Mutant("conv_no_update_parameters", "Conv", "layers/conv.py",
           "        self.update_parameters()\n", "",
           "the call to update_parameters() deleted: the optimizer never moves the kernels"),
    Mutant("pooling_gradient_to_every_tied_maximum", "Pooling", "layers/pooling.py",
           "winner = (images[:, :, rows, columns] == outputs) & unclaimed",
           "winner = images[:, :, rows, columns] == outputs",
           "a window with tied maxima sends its error to every one of them"),
    Mutant("pooling_gradient_to_the_last_tied_maximum", "Pooling", "layers/pooling.py",
           "        for p in range(window_y):\n            for q in range(window_x):\n                rows = slice(",
           "        for p in reversed(range(window_y)):\n            for q in reversed(range(window_x)):\n"
           "                rows = slice(",
           "a window with tied maxima sends its error to the last of them, not the first"),
    Mutant("dropout_without_inverse_scaling", "Dropout", "layers/dropout.py",
           "self.scale = 1.0 / self.probability if self.inverted else 1.0", "self.scale = 1.0",
           "inverted dropout without the 1/p in training: the mean activation drops to p times its test value"),
    Mutant("dropout_backward_without_mask", "Dropout", "layers/dropout.py",
           "return error_tensor * self.mask * scale", "return error_tensor * scale",
           "backward passes the error to the dropped units too"),
    Mutant("batch_normalization_one_mean_for_all_channels", "BatchNormalization", "layers/batch_normalization.py",
           "mean, variance = vectors.mean(axis=0), vectors.var(axis=0)",
           "mean, variance = vectors.mean(), vectors.var(axis=0)",
           "one mean over every channel, instead of one per channel over the batch"),
    Mutant("batch_normalization_mean_over_the_wrong_axis", "BatchNormalization", "layers/batch_normalization.py",
           "mean, variance = vectors.mean(axis=0), vectors.var(axis=0)",
           "mean, variance = vectors.mean(axis=1, keepdims=True), vectors.var(axis=0)",
           "the mean taken over the channels of each batch item instead of over the batch"),
    Mutant("batch_normalization_running_average_swapped", "BatchNormalization", "layers/batch_normalization.py",
           "self.running_mean = self.decay * self.running_mean + (1 - self.decay) * mean",
           "self.running_mean = (1 - self.decay) * self.running_mean + self.decay * mean",
           "decay weighting the new batch instead of the old running value"),
    Mutant("batch_normalization_backward_ignores_the_batch_moments", "BatchNormalization",
           "layers/batch_normalization.py",
           "        if self.testing_phase:  # μ and σ² are constants\n",
           "        if True:  # μ and σ² are constants\n",
           "training backward as if μ_B and σ²_B were constants"),
    Mutant("cross_entropy_eps_in_the_division", "CrossEntropyLoss", "framework/losses.py",
           "np.maximum(prediction, smallest)", "prediction + prediction.dtype.type(_EPS)",
           "−y/(ŷ + ε) with float64's ε: ~0 instead of a huge error for a confidently wrong prediction"),
    Mutant("cross_entropy_eps_of_its_precision_in_the_division", "CrossEntropyLoss", "framework/losses.py",
           "np.maximum(prediction, smallest)", "prediction + np.finfo(prediction.dtype).eps",
           "−y/(ŷ + ε) with ε in the prediction's precision (1.2e-7 for float32)"),
    Mutant("cross_entropy_mean_not_divided", "CrossEntropyLoss", "framework/losses.py",
           "            loss = loss / prediction_tensor.shape[0]\n", "            pass\n",
           "reduction='mean' returns the sum"),
    Mutant("sgd_sign_flipped", "Optimizers", "optimizers/sgd.py",
           "return self.learning_rate * gradient_tensor", "return -self.learning_rate * gradient_tensor",
           "gradient ascent: the step goes up the loss"),
    Mutant("momentum_without_decay", "Optimizers", "optimizers/sgd_with_momentum.py",
           "        self.velocity *= self.momentum_rate\n", "",
           "v ← v − η·g: the velocity never decays (μ forgotten)"),
    Mutant("adam_without_bias_correction", "Optimizers", "optimizers/adam.py",
           "        first_correction = 1 - self.mu ** self.step\n"
           "        second_correction = np.sqrt(1 - self.rho ** self.step)\n",
           "        first_correction = second_correction = 1.0\n",
           "Adam without v̂ = v/(1 − μ^k) and r̂ = r/(1 − ρ^k)"),
    Mutant("adam_epsilon_inside_the_square_root", "Optimizers", "optimizers/adam.py",
           "        np.sqrt(self.second_moment, out=scratch)\n        scratch += self.epsilon * second_correction\n",
           "        np.sqrt(self.second_moment + self.epsilon * second_correction ** 2, out=scratch)\n",
           "ε inside the square root instead of outside"),
    Mutant("l2_gradient_without_alpha", "Regularizers", "regularizers/lp.py",
           "return self.alpha * np.asarray(weights)", "return np.asarray(weights)",
           "the L2 gradient w instead of α·w"),
    Mutant("l1_gradient_without_sign", "Regularizers", "regularizers/lp.py",
           "return self.alpha * np.sign(weights)", "return self.alpha * np.asarray(weights)",
           "the L1 gradient α·w instead of α·sign(w)"),
    Mutant("norm_loss_without_the_inverse_norm", "Regularizers", "regularizers/norm_loss.py",
           "factor = np.where(norms > 0, 1 - inverse, 0)", "factor = np.where(norms > 0, norms - 1, 0)",
           "the chain rule's 1/‖w_o‖ forgotten: 2α·w_o·(‖w_o‖ − 1) instead of 2α·w_o·(1 − 1/‖w_o‖)"),
    Mutant("norm_loss_norm_an_array", "Regularizers", "regularizers/norm_loss.py",
           "return self.alpha * float(np.sum(np.square(1 - unit_norms(weights))))",
           "return self.alpha * np.sum(np.square(1 - unit_norms(weights)))",
           "norm returns a NumPy scalar, not the Python float the docstring promises"),
    Mutant("xavier_with_fan_in_only", "Initializers", "layers/initializers.py",
           "np.sqrt(2.0 / (fan_in + fan_out))", "np.sqrt(1.0 / fan_in)",
           "LeCun's σ = sqrt(1/fan_in) instead of Glorot's sqrt(2/(fan_in + fan_out))"),
)
