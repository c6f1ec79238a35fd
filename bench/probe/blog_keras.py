"""The blog's Keras model and TensorFlow counting code, kept as the blog wrote them.

The blog runs one script under TF 1.12 (`import tensorflow as tf`) and one under TF 2.3.1
(`tensorflow.compat.v1` with eager execution off); `seed_recipe` picks the matching imports.
"""
from __future__ import absolute_import, division, print_function

import tensorflow
from tensorflow.keras.layers import *  # noqa: F401,F403  (the blog's import)
from tensorflow.keras.models import Model

TF1 = tensorflow.__version__.startswith("1.")
if TF1:
    import tensorflow as tf
    import tensorflow.keras.backend as K
else:
    import tensorflow.compat.v1 as tf
    import tensorflow.compat.v1.keras.backend as K


def test_model_tf(Input_shape):
    # shape: [B, C, T, F]
    main_input = Input(batch_shape=Input_shape, name='main_inputs')
    conv = Conv2D(32, kernel_size=(4, 4), strides=(1, 2), activation='relu', data_format='channels_first', name='conv')(main_input)
    # shape: [B, T, FC]
    gru = Reshape((conv.shape[2], conv.shape[1] * conv.shape[3]))(conv)
    gru = GRU(units=96, reset_after=True, return_sequences=True, name='gru')(gru)
    output = Dense(256, activation='sigmoid', name='output')(gru)
    model = Model(inputs=[main_input], outputs=[output])
    return model


def get_flops(model):
    run_meta = tf.RunMetadata()
    opts = tf.profiler.ProfileOptionBuilder.float_operation()
    flops = tf.profiler.profile(graph=K.get_session().graph,
                                run_meta=run_meta, cmd='op', options=opts)
    return flops


def seed_recipe(build, shape):
    """Run the blog's `__main__` block with `build` for test_model_tf.

    Returns the profiler's answer (the blog prints its total_float_ops), the graph it profiled
    and the model.
    """
    if not TF1:
        tf.disable_eager_execution()
    x = K.random_normal(shape=shape)
    model = build(x.shape)
    return get_flops(model), K.get_session().graph, model
