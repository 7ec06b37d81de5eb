"""Where Keras runs, and the switches that make it repeatable and comparable with NumPy.

For a comparison: float64 or float32 set as Keras's floatx before any model, loss or optimizer
exists; seeds set; then per backend (backends.py sets what must be set before the backend starts):
    tensorflow  op determinism on; TensorFloat-32 and XLA off (on a GPU both change float32 results)
    jax         64-bit types on; matmul precision "highest" (no TF32 passes on a GPU)
    torch       deterministic algorithms; TF32 off for matmuls and cuDNN
"""
import random

import keras
import numpy as np


def configure(dtype="float64", seed=0):
    """Set floatx and seeds and the backend's determinism switches; returns where Keras runs, e.g.
    'tensorflow:cpu', 'jax:cpu' or 'torch:cuda:0 NVIDIA H100 80GB HBM3'."""
    keras.backend.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)  # the layers' policy is cached from the first floatx seen
    random.seed(seed)  # keras.utils.set_random_seed does these too, but imports TensorFlow (seconds) to seed it
    np.random.seed(seed)
    return {"tensorflow": tensorflow, "jax": jax, "torch": torch}[keras.backend.backend()](seed)


def tensorflow(seed):
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # before op determinism, which refuses unseeded random ops
    tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    tf.config.optimizer.set_jit(False)
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "tensorflow:cpu"
    return f"tensorflow:gpu:0 {tf.config.experimental.get_device_details(gpus[0]).get('device_name', '')}".rstrip()


def jax(seed):  # nothing of JAX's own is random here: configure seeded Python and NumPy
    import jax
    jax.config.update("jax_enable_x64", True)  # backends.use set it for start-up; this covers an earlier import
    jax.config.update("jax_default_matmul_precision", "highest")
    first = jax.devices()[0]  # where Keras puts its arrays
    return "jax:cpu" if first.platform == "cpu" else f"jax:{first.platform}:{first.id} {first.device_kind}"


def torch(seed):
    import torch
    from keras.src.backend.torch.core import get_device

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    where = get_device()  # "cuda" when PyTorch sees a GPU, else "cpu"
    return f"torch:cuda:0 {torch.cuda.get_device_name(0)}" if where == "cuda" else f"torch:{where}"
