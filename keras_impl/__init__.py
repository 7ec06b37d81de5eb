"""The Keras twin of the scratch network: same layers, same initial weights, same batches.

Importing this package quiets TensorFlow's C++ start-up logging unless the user chose a level.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
