"""Train a scratch network and its Keras twin (through model.fit) from one Config and one plan."""
import numpy as np

from scratch.batches import BatchPlan
from scratch.training import fit


def train_both(config, data=None):
    """(network, model, scratch_history, keras_history) after config.epochs epochs on both sides."""
    from keras_impl import device
    from keras_impl.training import fit_with_plan
    from keras_impl.twin import build_twin

    device.configure(config.dtype, config.seed)
    data = data or config.load_dataset()
    network = config.build_network(data)
    model = build_twin(network, config)
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    validation = (data.x_val, data.y_val)
    keras_history = fit_with_plan(model, data.x_train, data.y_train, plan, config.epochs, validation, verbose=0)
    scratch_history = fit(network, data.x_train, data.y_train, config.loss, config.build_optimizer(),
                          config.epochs, plan=plan, validation_data=validation, verbose=False)
    return network, model, scratch_history, keras_history


def max_weight_diff(network, model):
    return max(np.abs(s - k).max() for s, k in zip(network.parameter_copies(), model.get_weights()))


def max_loss_diff(scratch_history, keras_history, key="loss"):
    return max(abs(s[key] - k[key]) for s, k in zip(scratch_history, keras_history))
