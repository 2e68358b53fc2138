"""Workload 7: GradBench's evals, each tool running the same objective bodies.

The objectives are dualtape's implementations of GradBench's eval specifications
(:mod:`dualtape.gradbench.objectives`, ``.nested``), written over a namespace parameter:
dualtape runs them with ``dualtape.numpy``, autograd with ``autograd.numpy``, PyTorch with
an adapter namespace, JAX with ``jax.numpy`` (see :mod:`.gradbench_kits`). Sizes are
GradBench's own (its evals' default size lists), two per eval where they fit:

=========  ===========================================  ==============================
eval       derivative timed                             sizes
=========  ===========================================  ==============================
lse        gradient                                     n = 5,000 and 160,000
llsq       gradient                                     m = 128; n = 512 and 8,196
kmeans     ``dir``: J / diag(H), JVP of the gradient    (k, n, d) = (10, 1000, 8), (100, 10000, 16)
gmm        gradient over (alpha, mu, q, l)              n = 1000; (d, k) = (2, 5), (20, 50)
ode        gradient of the last output                  (n, s) = (1000, 10), (100000, 10)
det        gradient (expansion by minors, scalar)       ell = 5, 6
particle   one outer derivative at w = 0 (nested AD)    variants rr and ff
saddle     one outer derivative at (1, 1) (nested AD)   variants rr and ff
=========  ===========================================  ==============================

llsq's design ``t_i^j`` and ``sign(t_i)`` depend only on n: every tool gets them as data.
Each case also times every tool's objective alone ("<tool> objective", task ``objective``)
so that :mod:`.gradbench_report` can report ADBench's metric, the derivative's time over
the objective's, per tool. The NumPy floor is the objective on plain NumPy. The array
evals' derivatives also have a floor, "numpy by hand": the same derivative written out
analytically in plain NumPy, no AD (:mod:`.gradbench_by_hand`), checked like the others.

For particle and saddle, GradBench runs a whole gradient descent; one outer derivative is
its unit of work, and the solver's own cost is the same for every tool. JAX is absent
there: its ``grad`` cannot follow Python control flow on traced values (the Euler loop stops
on the particle's position), and ``lax.while_loop`` has no reverse mode.

``python -m benchmarks.workloads.gradbench_report DIR`` prints the per-tool ratios of a
run's ``DIR/data.csv``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target
from benchmarks.workloads import gradbench_by_hand
from benchmarks.workloads.gradbench_kits import KITS, Kit

NUMBER = 7
TITLE = "GradBench evals: gradient, Jacobian-Hessian and nested derivatives"
ARRAY_EVALS = ("lse", "llsq", "kmeans", "gmm")


@dataclass(frozen=True)
class Spec:
    """One case: ``objective(kit, *diff, *data)`` and how it is differentiated.

    ``derivative`` is ``grad`` (gradient in the ``diff`` arguments), ``dir`` (kmeans: the
    gradient over the Hessian's diagonal) or ``r``/``f`` (nested evals: the outer mode).
    """

    eval: str
    size: str  # the case key's last part: no commas (the CLI splits --workloads on them)
    label: str
    objective: Callable[..., Any]
    inputs: Callable[[], tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]
    derivative: str = "grad"
    jit: bool = True

    @property
    def task(self) -> str:
        return "jvp" if self.derivative == "dir" else "grad"


_MODULES: dict[str, Any] = {}


def _module(name: str) -> Any:
    """``dualtape.gradbench.<name>``, imported on first use; every tool's objective calls
    this, so later calls are one dictionary read, not an import."""
    got = _MODULES.get(name)
    if got is None:
        peers.dualtape()
        got = _MODULES[name] = importlib.import_module(f"dualtape.gradbench.{name}")
    return got


def _ob() -> Any:
    return _module("objectives")


def _nested() -> Any:
    return _module("nested")


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([6, *key])


def _lse_spec(n: int) -> Spec:
    return Spec("lse", f"{n}", f"n = {n}", lambda k, x: _ob().lse(x, xp=k.xp),
                lambda: ((_rng(1, n).random(n),), ()))


def _llsq_spec(n: int, m: int = 128) -> Spec:
    return Spec("llsq", f"{n}x{m}", f"n = {n}, m = {m}", lambda k, x, p, s: _ob().llsq(x, p, s, xp=k.xp),
                lambda: ((_rng(2, n).random(m),), _ob().llsq_data(n, m)))


def _kmeans_inputs(k: int, n: int, d: int) -> tuple:
    points = _rng(3, k, n, d).random((n, d))
    return (points[-k:].copy(),), (points,)


def _kmeans_spec(k: int, n: int, d: int) -> Spec:
    return Spec("kmeans", f"{k}x{n}x{d}", f"k = {k}, n = {n}, d = {d}",
                lambda kit, c, p: _ob().kmeans(c, p, xp=kit.xp),
                partial(_kmeans_inputs, k, n, d), derivative="dir")


def _gmm_inputs(d: int, k: int, n: int) -> tuple:
    rng = _rng(4, d, k, n)
    diff = (rng.normal(size=k), rng.uniform(size=(k, d)), rng.normal(size=(k, d)),
            rng.normal(size=(k, d * (d - 1) // 2)))
    return diff, (rng.normal(size=(n, d)),)


def _gmm_spec(d: int, k: int, n: int = 1000) -> Spec:
    return Spec("gmm", f"{d}x{k}x{n}", f"d = {d}, k = {k}, n = {n}",
                lambda kit, a, mu, q, l, x: _ob().gmm(a, mu, q, l, x, 0, 1.0, xp=kit.xp),  # noqa: E741
                partial(_gmm_inputs, d, k, n))


def _ode_spec(n: int, s: int) -> Spec:
    return Spec("ode", f"{n}x{s}", f"n = {n}, s = {s}", lambda k, x: _ob().ode_last(x, s, xp=k.xp),
                lambda: ((_rng(5, n).random(n),), ()))


def _det_spec(ell: int) -> Spec:
    return Spec("det", f"{ell}", f"ell = {ell}", lambda k, a: _ob().det(a, ell),
                lambda: ((_rng(6, ell).random(ell * ell),), ()))


def _particle_spec(variant: str) -> Spec:
    outer, inner = variant
    return Spec("particle", variant, f"variant {variant}, outer derivative at w = 0",
                lambda k, w: _nested().particle_miss(w, inner, k.partials),
                lambda: ((0.0,), ()), derivative=outer, jit=False)


def _saddle_spec(variant: str) -> Spec:
    outer, inner = variant
    return Spec("saddle", variant, f"variant {variant}, outer derivative at (1, 1)",
                lambda k, x1, x2: _nested().inner_max((x1, x2), (1.0, 1.0), inner, k.partials,
                                                      k.value),
                lambda: ((1.0, 1.0), ()), derivative=outer, jit=False)


SPECS = [
    _lse_spec(5_000), _lse_spec(160_000),
    _llsq_spec(512), _llsq_spec(8_196),
    _kmeans_spec(10, 1_000, 8), _kmeans_spec(100, 10_000, 16),
    _gmm_spec(2, 5), _gmm_spec(20, 50),
    _ode_spec(1_000, 10), _ode_spec(100_000, 10),
    _det_spec(5), _det_spec(6),
    _particle_spec("rr"), _particle_spec("ff"),
    _saddle_spec("rr"), _saddle_spec("ff"),
]


# ---------------------------------------------------------------- derivatives per tool


def _derivative(kit: Kit, spec: Spec, ndiff: int) -> Callable[..., Any]:
    """``d(*diff, *data)``: the derivative the spec asks for, with the kit's own AD."""
    f = partial(spec.objective, kit)
    if spec.derivative in ("r", "f"):
        return lambda *args: kit.partials(f, args, ndiff, spec.derivative)
    if kit.name == "dualtape":
        import dualtape as dt

        grad = dt.grad(f, argnums=tuple(range(ndiff)))
        if spec.derivative == "dir":
            return lambda c, *data: _ratio(*dt.jvp(lambda c: grad(c, *data)[0], (c,),
                                                   (np.ones_like(c),)))
        return grad
    if kit.name == "autograd":
        ag = peers.autograd()[0]
        grad = ag.grad(lambda diff, *data: f(*diff, *data))
        if spec.derivative == "dir":
            return lambda c, *data: _ratio(*ag.make_jvp(lambda c: grad((c,), *data)[0])(c)(
                np.ones_like(c)))
        return lambda *args: grad(tuple(args[:ndiff]), *args[ndiff:])
    if kit.name == "jax":
        jax = peers.jax()[0]
        grad = jax.grad(f, argnums=tuple(range(ndiff)))
        if spec.derivative == "dir":
            return lambda c, *data: _ratio(*jax.jvp(lambda c: grad(c, *data)[0], (c,),
                                                    (jax.numpy.ones_like(c),)))
        return grad
    return _torch_derivative(f, spec, ndiff)


def _ratio(j: Any, h: Any) -> Any:
    return j / h


def _torch_derivative(f: Callable[..., Any], spec: Spec, ndiff: int) -> Callable[..., Any]:
    torch = peers.torch()
    if spec.derivative == "dir":
        grad = torch.func.grad(f)
        return lambda c, *data: _ratio(*torch.func.jvp(lambda c: grad(c, *data), (c,),
                                                       (torch.ones_like(c),)))

    def gradient(*args: Any) -> Any:
        leaves = [a.detach().requires_grad_(True) for a in args[:ndiff]]
        return torch.autograd.grad(f(*leaves, *args[ndiff:]), leaves)

    return gradient


def _builder(tool: str, spec: Spec, what: str, jit: bool = False) -> Callable[[], Callable[[], Any]]:
    """A contender's build function: ``what`` is ``objective`` or ``derivative``."""

    def build() -> Callable[[], Any]:
        kit = KITS[tool]()
        diff, data = spec.inputs()
        args = tuple(kit.asarray(np.asarray(a)) if isinstance(a, np.ndarray) else a
                     for a in (*diff, *data))
        fn = partial(spec.objective, kit) if what == "objective" else _derivative(kit, spec,
                                                                                  len(diff))
        if tool != "jax":
            return lambda: fn(*args)
        jax = peers.jax()[0]
        fn = jax.jit(fn) if jit else fn
        return lambda: jax.block_until_ready(fn(*args))

    return build


def _numpy_objective(spec: Spec) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        kit = Kit("numpy", np, lambda a: a, KITS["dualtape"]().partials, float)
        diff, data = spec.inputs()
        return lambda: spec.objective(kit, *diff, *data)

    return build


def _by_hand(spec: Spec) -> Callable[[], Callable[[], Any]]:
    """The build of the by-hand NumPy derivative, on the same inputs as the AD tools."""

    def build() -> Callable[[], Any]:
        fn = gradbench_by_hand.DERIVATIVES[spec.eval, spec.derivative]
        diff, data = spec.inputs()
        return lambda: fn(*diff, *data)

    return build


def _case(spec: Spec) -> Case:
    contenders: list[Contender] = []
    targets: list[Target] = []
    # kmeans: the gradient alone too (J), beside dir (J and the Hessian's diagonal)
    for one in [replace(spec, derivative="grad"), spec] if spec.derivative == "dir" else [spec]:
        contenders += _contenders(one)
        targets.append(Target(f"dualtape {one.task}", f"autograd {one.task}", 0.5))
    contenders += _objectives(spec)
    if spec.eval in ARRAY_EVALS:
        targets.append(Target("dualtape grad", "numpy objective", 4.0))
    return Case(NUMBER, f"{NUMBER}:{spec.eval}:{spec.size}", f"GradBench {spec.eval}, {spec.label}",
                contenders, targets, rtol=1e-6, atol=1e-9)


def _contenders(spec: Spec) -> list[Contender]:
    """The derivative's contenders (JAX only where it can follow the objective).

    The array evals also get the derivative by hand in plain NumPy, the floor (no target).
    """
    task = spec.task
    contenders = [
        Contender(f"dualtape {task}", "dualtape", task, _builder("dualtape", spec, "derivative")),
        Contender("autograd " + task, "autograd", task, _builder("autograd", spec, "derivative")),
        Contender("torch eager " + task, "torch", task, _builder("torch", spec, "derivative")),
    ]
    if spec.jit:
        contenders += [
            Contender("jax eager " + task, "jax", task, _builder("jax", spec, "derivative")),
            Contender("jax jit " + task, "jax", task, _builder("jax", spec, "derivative", jit=True),
                      reference=True),
        ]
    if (spec.eval, spec.derivative) in gradbench_by_hand.DERIVATIVES:
        contenders.append(Contender(f"numpy by hand {task}", "numpy", task, _by_hand(spec)))
    return contenders


def _objectives(spec: Spec) -> list[Contender]:
    """Each tool's objective alone (ADBench's denominator), and the NumPy floor."""
    contenders = [
        Contender("dualtape objective", "dualtape", "objective",
                  _builder("dualtape", spec, "objective")),
        Contender("autograd objective", "autograd", "objective",
                  _builder("autograd", spec, "objective")),
        Contender("torch eager objective", "torch", "objective",
                  _builder("torch", spec, "objective")),
    ]
    if spec.jit:
        contenders += [
            Contender("numpy objective", "numpy", "forward", _numpy_objective(spec)),
            Contender("jax eager objective", "jax", "objective", _builder("jax", spec, "objective")),
            Contender("jax jit objective", "jax", "objective",
                      _builder("jax", spec, "objective", jit=True)),
        ]
    return contenders


def cases() -> list[Case]:
    """One case per eval and size."""
    return [_case(spec) for spec in SPECS]
