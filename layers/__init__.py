"""Layers: one module per layer, each with forward and backward."""
from layers.activations import ReLU, Sigmoid, SoftMax, TanH
from layers.batch_normalization import BatchNormalization
from layers.conv import Conv
from layers.dropout import Dropout
from layers.flatten import Flatten
from layers.global_average_pooling import GlobalAveragePooling
from layers.fully_connected import FullyConnected
from layers.pooling import Pooling

__all__ = ["FullyConnected", "ReLU", "SoftMax", "TanH", "Sigmoid", "Flatten", "Conv", "Pooling", "Dropout", "BatchNormalization",
           "GlobalAveragePooling"]

