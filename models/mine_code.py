"""A model of your own, in code: `nox -s matrix -- --models mine_code --cells torch-latest,tf-latest`.

The file's name is the model's name. Define either function or both, at the top level; each returns
the model and the example input it is counted on. The file is imported inside each cell's container,
so import the frameworks inside the functions: a cell without one skips that function's counters.
"""


def torch_model() -> tuple:
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 10)
    )
    return model, torch.randn(1, 3, 32, 32)


def keras_model() -> tuple:
    import numpy as np

    try:
        from tensorflow import keras  # tf.keras in the TensorFlow cells
    except ImportError:
        import keras  # Keras 3 in keras3-jax

    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3), batch_size=1),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.AveragePooling2D(8),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    return model, np.random.RandomState(0).standard_normal((1, 32, 32, 3)).astype("float32")
