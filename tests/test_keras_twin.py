"""The Keras twin, trained through model.fit, stays on the scratch network's trajectory."""
import numpy as np
import pytest

from scratch import datasets
from scratch.config import Config
from helpers import max_loss_diff, max_weight_diff, train_both


def test_float64_default_recipe_agrees_to_1e12():
    """10 of the recipe's 30 epochs; all 30 are checked through `python -m compare` (test_compare)."""
    network, model, sh, kh = train_both(Config(epochs=10))
    assert max_weight_diff(network, model) <= 1e-12
    assert max_loss_diff(sh, kh) <= 1e-12
    assert max_loss_diff(sh, kh, "val_loss") <= 1e-12
    assert [s["val_accuracy"] for s in sh] == pytest.approx([k["val_accuracy"] for k in kh], abs=1e-12)
    assert kh[-1]["val_accuracy"] >= 0.94


def test_float64_deep_relu_nesterov_partial_batch_agrees_to_1e11():
    config = Config(hidden=[32, 16, 16], activation="relu", output_activation="sigmoid", lr=0.1,
                    momentum=0.9, nesterov=True, batch_size=37, epochs=10, seed=3)
    data = datasets.digits()
    assert len(data.x_train) % config.batch_size != 0  # the last batch is partial
    network, model, sh, kh = train_both(config, data)
    assert max_weight_diff(network, model) <= 1e-11
    assert max_loss_diff(sh, kh) <= 1e-11


def test_float32_default_recipe_agrees_to_1e5():
    network, model, sh, kh = train_both(Config(dtype="float32", epochs=10))
    assert all(p.dtype == np.float32 for p in model.get_weights() + network.parameter_copies())
    assert max_weight_diff(network, model) <= 1e-5
    assert max_loss_diff(sh, kh) <= 1e-5


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy"])
def test_keras_losses_by_the_same_names(loss):
    config = Config(loss=loss, lr=0.5, epochs=2, hidden=[12], seed=1)
    network, model, sh, kh = train_both(config)
    assert max_weight_diff(network, model) <= 1e-13
    assert max_loss_diff(sh, kh) <= 1e-13


def test_weights_copy_back_and_step_is_refused():
    from keras_impl import device
    from keras_impl.twin import build_model

    device.configure("float64", 0)
    config = Config(hidden=[5])
    data = datasets.xor()
    network = config.build_network(data)
    model = build_model(network)
    model.set_weights([w + 1 for w in model.get_weights()])
    network.set_parameters(model.get_weights())
    assert all((a == b).all() for a, b in zip(network.parameter_copies(), model.get_weights()))
    with pytest.raises(ValueError, match="step activation has no Keras twin"):
        build_model(Config(hidden=[3], activation="step").build_network(data))


@pytest.mark.slow
def test_keras_follow_up_example_logs_to_tensorboard(run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from scratch.training import fit

    result = run("keras_impl", "--epochs", "3", "--logdir", str(tmp_path), "--name", "k1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # TensorFlow's own log lines are filtered out
    accuracy = float(result.stdout.split("Final validation accuracy: ")[1].split("%")[0])
    config = Config(epochs=3)
    data = config.load_dataset()
    network = config.build_network(data)
    scratch = fit(network, data.x_train, data.y_train, config.loss, config.build_optimizer(), config.epochs,
                  config.batch_size, config.seed, validation_data=(data.x_val, data.y_val), verbose=False)
    assert accuracy == round(100 * scratch[-1]["val_accuracy"], 2) and accuracy > 80
    assert result.stdout.startswith("Loading TensorFlow (a few seconds)...\n")
    assert result.stdout.rstrip().endswith(f"See the curves: python -m compare view k1 --logdir {tmp_path}")
    for side in ("train", "validation"):
        events = EventAccumulator(str(tmp_path / "k1" / "keras" / side), size_guidance={"tensors": 0})
        events.Reload()
        assert "epoch_loss" in events.Tags()["tensors"]
        assert [e.step for e in events.Tensors("epoch_loss")] == [1, 2, 3]  # epochs as the CLIs count them
    again = run("keras_impl", "--epochs", "1", "--logdir", str(tmp_path), "--name", "k1")
    assert again.returncode == 2 and "already exists" in again.stderr
