"""Where Keras runs, and the switches that make it repeatable and comparable with NumPy.

For a comparison: float64 or float32 set as Keras's floatx before any model, loss or optimizer
exists; seeds set; op determinism on; TensorFloat-32 and XLA off (on a GPU both change float32
results).
"""
import keras
import tensorflow as tf


def configure(dtype="float64", seed=0):
    """Set floatx and seeds, make TensorFlow deterministic; returns the device, 'GPU:0' or 'CPU:0'."""
    keras.backend.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)  # the layers' policy is cached from the first floatx seen
    keras.utils.set_random_seed(seed)  # before op determinism, which refuses unseeded random ops
    tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    tf.config.optimizer.set_jit(False)
    return device_name()


def device_name():
    """'GPU:0' when TensorFlow sees a GPU, else 'CPU:0'."""
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
