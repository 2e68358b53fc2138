"""The teaching code: the micrograd-style :class:`Value`, ``nn``, losses, graph drawing
and the runnable lesson, all on the same registry as the engines.

* :mod:`.value` -- ``Value``, a scalar that runs in both modes;
* :mod:`.nn` -- ``Neuron``, ``Layer``, ``MLP`` on Values, and the same MLP on arrays;
* :mod:`.losses` -- binary cross-entropy (stable for any logit), MSE;
* :mod:`.graph` -- Value graphs and tapes as Graphviz DOT (:func:`to_dot`, :func:`draw`);
* :mod:`.explain` -- the backward and forward passes explained node by node, and the
  lesson's hand exercise;
* :mod:`.training` -- the lesson's MLP trained, every engine checked against JAX;
* :mod:`.exercises` -- the graph exercise and the cross-entropy table.

Everything here needs only NumPy; drawing needs Graphviz's ``dot`` to render, and
the comparisons with JAX import it when called.
"""

from . import nn
from .exercises import (
    cross_entropy_table,
    draw_exercise_graph,
    draw_exercise_tape,
    exercise_loss,
    exercise_network,
    exercise_tape,
    print_cross_entropy_table,
)
from .explain import (
    HandExercise,
    explain_backward,
    explain_forward,
    explain_forward_values,
    hand_exercise,
)
from .graph import TapeTrace, draw, to_dot, trace
from .losses import binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss
from .training import (
    LESSON_XS,
    LESSON_YS,
    TrainingHistory,
    enable_jax_x64,
    jax_mlp_grad,
    max_abs_diff,
    train_lesson_mlp,
)
from .value import Value, topological_order, zero_grad

__all__ = [
    "LESSON_XS", "LESSON_YS", "HandExercise", "TapeTrace", "TrainingHistory", "Value",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy_table", "draw",
    "draw_exercise_graph", "draw_exercise_tape", "enable_jax_x64", "exercise_loss",
    "exercise_network", "exercise_tape", "explain_backward", "explain_forward",
    "explain_forward_values", "hand_exercise", "jax_mlp_grad", "max_abs_diff", "mse_loss", "nn",
    "print_cross_entropy_table", "to_dot", "topological_order", "trace", "train_lesson_mlp",
    "zero_grad",
]
