"""TensorBoard event files of a comparison run, laid out so TensorBoard overlays the twins.

    <run>/keras/train, <run>/keras/validation        written by keras.callbacks.TensorBoard
    <run>/scratch/train, <run>/scratch/validation    written here, with the same tags
    <run>/agreement                                  |delta loss|, max |delta w|, gradient errors
    <run>/                                            the settings, for the HParams dashboard
One writer per folder: two writers in one folder make TensorBoard drop one.
"""
import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.scalar import metadata as scalar_metadata

from keras_impl.twin import MODEL_NAME


def scalar(tag, value, step=None):
    """tf.summary.scalar of a float64, so a value beyond float32's range is stored as inf, not refused."""
    tf.summary.scalar(tag, np.float64(value), step=step)


SCALAR_METADATA = scalar_metadata.create_summary_metadata(display_name=None, description=None)


def scalar_series_writer():
    """A function writing the scalar summary values[k] at step k, for every k, to the default writer:
    what tf.summary.scalar writes (float32, the scalars plugin's metadata), in one graph call rather
    than one eager call (~0.8 ms) per value. A traced function keeps the writer it was first called
    with, so each writer needs its own."""
    @tf.function(autograph=False, input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.float64)])
    def scalar_series(tag, values):
        def write(k):
            tf.summary.write(tag, tf.cast(values[k], tf.float32), step=k, metadata=SCALAR_METADATA)
            return k + 1

        tf.while_loop(lambda k: k < tf.size(values, out_type=tf.int64), write, [tf.constant(0, tf.int64)])

    return scalar_series


class ComparisonLogs:
    """The writers this harness owns (not Keras's), opened once per run and closed at the end."""

    def __init__(self, run_dir, config, learning_rate):
        folders = {"train": "scratch/train", "validation": "scratch/validation", "agreement": "agreement", "root": ""}
        self.writers = {k: tf.summary.create_file_writer(os.path.join(run_dir, v)) for k, v in folders.items()}
        self.learning_rate = learning_rate
        settings = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in config.as_dict().items()}
        with self.writers["root"].as_default():
            hparams_api.hparams(settings, trial_id=os.path.basename(run_dir))

    def log_epoch(self, epoch, scratch_logs, keras_logs, weight_diffs, network):
        """The scratch side's epoch summaries (with Keras's tags) and the epoch's agreement, at
        step epoch + 1 (as PlanTensorBoard logs Keras's), the epoch number the CLIs print."""
        step = epoch + 1
        with self.writers["train"].as_default(step=step):
            scalar("epoch_loss", scratch_logs["loss"])
            scalar("epoch_accuracy", scratch_logs["accuracy"])
            scalar("epoch_learning_rate", self.learning_rate)
            for name, p in zip(network.parameter_names(), network.parameter_copies()):
                tf.summary.histogram(f"{MODEL_NAME}/{name}/histogram", p)  # Keras's tag: the weight's path
        if "val_loss" in scratch_logs:
            with self.writers["validation"].as_default(step=step):
                scalar("epoch_loss", scratch_logs["val_loss"])
                scalar("epoch_accuracy", scratch_logs["val_accuracy"])
        with self.writers["agreement"].as_default(step=step):
            for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
                if key in keras_logs:
                    scalar(f"abs_delta_{key}", abs(scratch_logs[key] - keras_logs[key]))
            scalar("max_abs_weight_diff", max(weight_diffs.values()))
            for name, diff in weight_diffs.items():
                scalar(f"max_abs_weight_diff/{name}", diff)

    def log_gradients(self, rows):
        """Step 0's gradient relative errors, per tensor (GradientRows)."""
        with self.writers["agreement"].as_default(step=0):
            for row in rows:
                scalar(f"gradient_rel_error/scratch_vs_keras/{row.name}", row.scratch_vs_keras_rel)
                scalar(f"gradient_rel_error/scratch_vs_fd/{row.name}", row.scratch_vs_fd_rel)

    def log_steps(self, step_losses, gaps, step_errors):
        """At every step: |delta| of the pre-update batch loss, the trajectories' gap, and the step
        check's error (compare/step_check.py)."""
        scratch, keras = np.array(step_losses["scratch"], np.float64), np.array(step_losses["keras"], np.float64)
        scalar_series = scalar_series_writer()
        with self.writers["agreement"].as_default():
            for tag, values in (("step_abs_delta_loss", np.abs(scratch - keras)), ("step_weight_gap", gaps),
                                ("step_update_error", step_errors)):
                scalar_series(tf.constant(tag), tf.constant(values, tf.float64))

    def close(self):
        for writer in self.writers.values():
            writer.close()
