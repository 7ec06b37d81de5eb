"""TensorBoard event files of a comparison run, laid out so TensorBoard overlays the twins.

    <run>/keras/train, <run>/keras/validation        written by keras.callbacks.TensorBoard (on JAX
                                                     and PyTorch by keras_impl's TensorFlow-free twin)
    <run>/scratch/train, <run>/scratch/validation    written here, with the same tags
    <run>/agreement                                  |delta loss|, max |delta w|, gradient errors
    <run>/                                            the settings, for the HParams dashboard
With `--backend all` each backend's run writes keras_<backend>/ and agreement_<backend>/ into one
run folder, and the first one scratch/ and the settings. One writer per folder: two writers in one
folder make TensorBoard drop one. Written with the `tensorboard` package alone (keras_impl/event_files.py),
so logging works where TensorFlow is not installed.
"""
import errno
import os

from keras_impl.event_files import EventFile
from keras_impl.twin import MODEL_NAME


class ComparisonLogs:
    """The writers this harness owns (not Keras's), opened once per run and closed at the end."""

    def __init__(self, run_dir, config, learning_rate, agreement="agreement", scratch=True):
        """Writers for `agreement` (a folder name) and, with `scratch`, the scratch side and the settings."""
        folders = {"agreement": agreement}
        if scratch:
            folders.update(train="scratch/train", validation="scratch/validation", root="")
        self.writers = {k: EventFile(os.path.join(run_dir, v)) for k, v in folders.items()}
        self.learning_rate, self.run_dir = learning_rate, run_dir
        if scratch:
            settings = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in config.as_dict().items()}
            self.writers["root"].hparams(settings, trial_id=os.path.basename(run_dir))

    def log_epoch(self, epoch, scratch_logs, keras_logs, weight_diffs, network):
        """The scratch side's epoch summaries (with Keras's tags) and the epoch's agreement, at
        step epoch + 1 (as the Keras side logs its own), the epoch number the CLIs print. A run folder
        deleted during the run is noticed here (the files, unlinked, would take writes unseen)."""
        if not os.path.isdir(self.run_dir):
            raise FileNotFoundError(errno.ENOENT, f"the run folder {self.run_dir} was deleted during the run")
        step = epoch + 1
        if "train" in self.writers:
            train = self.writers["train"]
            train.scalar("epoch_loss", scratch_logs["loss"], step)
            train.scalar("epoch_accuracy", scratch_logs["accuracy"], step)
            train.scalar("epoch_learning_rate", self.learning_rate, step)
            for name, p in zip(network.parameter_names(), network.parameter_copies()):
                train.histogram(f"{MODEL_NAME}/{name}/histogram", p, step)  # Keras's tag: the weight's path
            if "val_loss" in scratch_logs:
                self.writers["validation"].scalar("epoch_loss", scratch_logs["val_loss"], step)
                self.writers["validation"].scalar("epoch_accuracy", scratch_logs["val_accuracy"], step)
        agreement = self.writers["agreement"]
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            if key in keras_logs:
                agreement.scalar(f"abs_delta_{key}", abs(scratch_logs[key] - keras_logs[key]), step)
        agreement.scalar("max_abs_weight_diff", max(weight_diffs.values()), step)
        for name, diff in weight_diffs.items():
            agreement.scalar(f"max_abs_weight_diff/{name}", diff, step)
        self.flush()

    def log_gradients(self, rows):
        """Step 0's gradient relative errors, per tensor (GradientRows)."""
        agreement = self.writers["agreement"]
        for row in rows:
            agreement.scalar(f"gradient_rel_error/scratch_vs_keras/{row.name}", row.scratch_vs_keras_rel, 0)
            agreement.scalar(f"gradient_rel_error/scratch_vs_fd/{row.name}", row.scratch_vs_fd_rel, 0)

    def log_steps(self, steps, blocks=None):
        """At every step measured (report keys `steps` and `blocks`, docs/design.md): |delta| of the
        pre-update batch loss, the trajectories' gap, and the step check's error (compare/step_check.py);
        checked in blocks, at each block's last step also |delta| of its mean loss and the block check's
        error."""
        agreement = self.writers["agreement"]
        pairs = zip(steps["scratch_loss"], steps["keras_loss"])
        delta = [None if s is None or k is None else abs(s - k) for s, k in pairs]
        for tag, values in (("step_abs_delta_loss", delta), ("step_weight_gap", steps["weight_gap"]),
                            ("step_update_error", steps["update_error"])):
            agreement.scalars(tag, values)
        if blocks:
            delta = [abs(s - k) for s, k in zip(blocks["scratch_loss"], blocks["keras_loss"])]
            for tag, values in (("block_abs_delta_loss", delta), ("block_update_error", blocks["update_error"])):
                for step, value in zip(blocks["last_step"], values):
                    agreement.scalar(tag, value, step)

    def flush(self):
        for writer in self.writers.values():
            writer.flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()
