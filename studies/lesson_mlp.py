"""The lesson's training loop: MLP(3, [4, 4, 1]) on four samples, plain SGD, every gradient checked.

The network is built from ``dualtape.Value`` scalars, trained exactly as the
lesson does (loss = sum of squared errors, zero the grads, ``backward()``,
``p.data -= lr * p.grad``), and at every step the scalar engine's gradient is
compared with the same network on arrays differentiated by dualtape's reverse
mode (``dt.grad``), by its forward mode (``dt.jacfwd``) and by ``jax.grad``.

Run: ``dualtape study run lesson_mlp`` or ``python studies/lesson_mlp.py``; the
training function itself is ``dualtape.lessons.train_lesson_mlp``.  Writes
``data.csv`` (loss and disagreements per step), ``env.json``,
``lesson_mlp.png``/``.svg`` and ``summary.md`` into ``results/lesson_mlp/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dualtape.lessons import LESSON_YS, train_lesson_mlp
from dualtape.study import RunReport, Study
from dualtape.study.custom import load_csv, run_cells, save_figure, study_main
from dualtape.study.storage import write_atomic

NAME = "lesson_mlp"
STEPS, LR, SEED = 100, 0.01, 2
ENGINES = ("array reverse", "array forward", "jax")
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME


def _load(out: Path) -> list[dict[str, Any]]:
    return load_csv(out, NAME, floats=("step", "loss", *ENGINES))


def plot(study: Study | None = None, *, out: Path | str = RESULTS) -> list[Path]:
    """Loss per step (left) and the gradient disagreement per engine (right), log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rows = _load(out)
    steps = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(steps, [r["loss"] for r in rows], color="#1f77b4", lw=1.8)
    a.set_yscale("log")
    a.set_xlabel("SGD step")
    a.set_ylabel("loss = sum (ŷ - y)²")
    a.set_title("Training MLP(3, [4, 4, 1]) on the lesson's 4 samples")
    a.grid(True, alpha=0.3)
    for e, c in zip(ENGINES, ("#2ca02c", "#d62728", "#9467bd"), strict=True):
        b.plot(steps, [max(r[e], 1e-18) for r in rows], color=c, lw=1.2, label=e)
    b.set_yscale("log")
    b.set_ylim(1e-18, 1e-10)
    b.set_xlabel("SGD step")
    b.set_ylabel("max |grad(Value) - grad(engine)|")
    b.set_title("Gradient agreement with the scalar engine")
    b.legend(fontsize=8)
    b.grid(True, alpha=0.3)
    fig.tight_layout()
    files = save_figure(fig, out, NAME, dpi=130)
    plt.close(fig)
    return files


def summary(study: Study | None = None, *, out: Path | str = RESULTS) -> Path:
    """Write ``summary.md`` from data.csv."""
    out = Path(out)
    rows = _load(out)
    worst = {e: max(r[e] for r in rows) for e in ENGINES}
    lines = [
        f"# {NAME}",
        "",
        f"![loss and gradient agreement]({NAME}.png)",
        "",
        f"Over {len(rows)} steps of plain SGD (lr = {LR}, seed {SEED}) the loss falls from "
        f"{rows[0]['loss']:.4f} to {rows[-1]['loss']:.4f} (each step records the loss before "
        "its update, so the last is the loss after "
        f"{len(rows) - 1} updates), and at every step the scalar engine's "
        "gradient (`Value.backward`) agrees with the array MLP's under dualtape's reverse mode, "
        "its forward mode and JAX to "
        + ", ".join(f"{worst[e]:.1e} ({e})" for e in ENGINES) + " (largest absolute "
        "difference over all steps and all 41 parameters).",
        "",
        f"Targets: {LESSON_YS}. Loss = sum over the 4 samples of (ŷ - y)²; "
        "`MLP(3, [4, 4, 1])`: ReLU hidden layers, linear output, weights U(-1, 1), biases 0.",
        "",
        f"Regenerate: `dualtape study run {NAME}` (or `python studies/{NAME}.py`).",
        "",
    ]
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def measure(steps: int, progress: bool = False) -> list[dict[str, Any]]:
    """Train ``steps`` steps with every check on: one row per step."""
    h = train_lesson_mlp(steps=steps, lr=LR, seed=SEED, engines=ENGINES, verbose=progress,
                         file=sys.stderr)
    return [{"step": k, "loss": loss, **{e: h.disagreement[e][k] for e in ENGINES}}
            for k, loss in enumerate(h.losses)]


def run(study: Study | None = None, *, out: Path | str = RESULTS, quick: bool = False,
        progress: bool = False, command: list[str] | None = None) -> RunReport:
    """Train with every check on (one cell: the training run) into data.csv, then draw the
    figures and write summary.md."""
    steps = 20 if quick else STEPS
    return run_cells(NAME, out, [("train", steps)], lambda _, k: measure(k, progress),
                     ("step", "loss", *ENGINES), quick=quick, command=command, plot=plot,
                     summary=summary)


STUDY = Study(
    name=NAME,
    description=("The lesson's training loop: MLP(3, [4, 4, 1]) on four samples by plain SGD, "
                 "with the scalar engine's gradient checked against dualtape's array engines "
                 "(reverse and forward) and JAX at every step."),
    run=run,
    plot=plot,
    summary=summary,
)


def main(argv: list[str] | None = None) -> int:
    """Same as ``dualtape study run lesson_mlp [options]``."""
    return study_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
