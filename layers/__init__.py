"""Layers: one module per layer, each with forward and backward."""
from layers.activations import ReLU, Sigmoid, SoftMax, TanH
from layers.batch_normalization import BatchNormalization
from layers.dropout import Dropout
from layers.flatten import Flatten
from layers.fully_connected import FullyConnected

__all__ = ["FullyConnected", "ReLU", "SoftMax", "TanH", "Sigmoid", "Flatten", "Dropout", "BatchNormalization"]

