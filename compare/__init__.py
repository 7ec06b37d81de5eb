"""The harness: train the scratch network and its Keras twin side by side and say whether they agree."""
