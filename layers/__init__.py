"""The teaching layers: one module per layer, each with forward and backward.

``LAYERS`` is the one table of layer classes by the name a checkpoint stores; the fast
package (``layers.fast``) has a table with the same names.
"""
from layers.activations import ReLU, Sigmoid, SoftMax, TanH
from layers.batch_normalization import BatchNormalization
from layers.conv import Conv
from layers.dropout import Dropout
from layers.flatten import Flatten
from layers.fully_connected import FullyConnected
from layers.global_average_pooling import GlobalAveragePooling
from layers.pooling import Pooling

__all__ = ["FullyConnected", "ReLU", "SoftMax", "TanH", "Sigmoid", "Flatten", "Conv", "Pooling", "Dropout",
           "BatchNormalization", "GlobalAveragePooling", "LAYERS"]

LAYERS = {layer.__name__: layer for layer in (FullyConnected, Conv, Pooling, Dropout, BatchNormalization, ReLU,
                                                SoftMax, TanH, Sigmoid, Flatten, GlobalAveragePooling)}
