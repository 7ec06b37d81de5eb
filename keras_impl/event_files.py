"""TensorBoard event files written with the `tensorboard` package alone, without TensorFlow.

An event file is a sequence of records, each an Event protocol buffer: first the file version, then
one summary per value. A scalar is what tf.summary.scalar writes (a float32 tensor with the scalars
plugin's metadata), a histogram what tf.summary.histogram writes (30 buckets), so TensorBoard shows
them alike, whichever Keras backend ran and whether TensorFlow is installed or not (the GPU machine
has none).
"""
import os
import socket
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.histogram.summary_v2 import histogram_pb
from tensorboard.plugins.hparams.summary_v2 import hparams_pb
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter

SCALAR_METADATA = scalar_metadata.create_summary_metadata(display_name=None, description=None)
SCALAR_SHAPE = tensor_shape_pb2.TensorShapeProto()  # a scalar: no dimensions


class EventFile:
    """One event file in `folder` (created); TensorBoard reads one writer per folder."""

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.{id(self)}.v2"
        self.file = open(os.path.join(folder, name), "wb")
        self.records = RecordWriter(self.file)
        self.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, event):
        self.records.write(event.SerializeToString())

    def summary(self, summary, step):
        self.write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def scalar(self, tag, value, step):
        """A float32 scalar; a value beyond float32's range is stored as inf, as TensorFlow does."""
        with np.errstate(over="ignore"):
            value = float(np.float32(value))
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=SCALAR_SHAPE, float_val=[value])
        self.summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, metadata=SCALAR_METADATA, tensor=tensor)]), step)

    def scalars(self, tag, values):
        """values[k] at step k, for every k whose value is not None."""
        for step, value in enumerate(values):
            if value is not None:
                self.scalar(tag, value, step)

    def histogram(self, tag, values, step):
        self.summary(histogram_pb(tag, np.asarray(values, np.float64)), step)

    def hparams(self, settings, trial_id):
        """The run's settings, for TensorBoard's HParams dashboard."""
        self.summary(hparams_pb(settings, trial_id=trial_id), 0)

    def flush(self):
        self.file.flush()

    def close(self):
        self.file.close()
