"""``einsum``: one primitive whose JVP and VJP rules are einsums themselves.

The primitive takes a normalised subscript string ``spec`` with explicit output,
no ellipsis, and label sizes that agree across operands (``dualtape.numpy.einsum``
rewrites every form NumPy accepts into this one).  Its rules:

* JVP for operand ``i``: the same contraction with the tangent in place of the
  operand; batch axes of vector mode become fresh labels in front.
* VJP for operand ``i``: contract the output cotangent with the other operands
  into operand ``i``'s labels.  A label repeated inside operand ``i`` (a trace or
  a diagonal) is split in two and tied by an identity matrix; a label summed
  only inside operand ``i`` is broadcast back by a ones vector.
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from .. import ops
from ..ops import add, ndim_of, shape_of
from ..registry import DENSE, Primitive, register

__all__ = ["einsum", "einsum_p", "parse", "fresh_labels", "einsum_call", "tensordot"]

LABELS = string.ascii_letters


def parse(spec: str) -> tuple[list[str], str]:
    """``"ab,bc->ac"`` -> (["ab", "bc"], "ac")."""
    ins, out = spec.split("->")
    return ins.split(","), out


def fresh_labels(spec: str, k: int) -> str:
    """``k`` labels not used in ``spec``."""
    free = [c for c in LABELS if c not in spec]
    if len(free) < k:
        raise ValueError(f"einsum: too many distinct labels ({len(set(spec) & set(LABELS))} used, "
                         f"{k} more needed; at most 52 in all)")
    return "".join(free[:k])


def _sizes(ins: list[str], xs: tuple) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for labels, x in zip(ins, xs, strict=True):
        for c, n in zip(labels, shape_of(x)[ndim_of(x) - len(labels):], strict=True):
            if sizes.get(c, 1) == 1:  # a label of size 1 broadcasts (to 0 as well)
                sizes[c] = n
    return sizes


def _impl_optimizes(xs: tuple) -> bool:
    return len(xs) > 2 or any(np.size(x) > 256 for x in xs)


def _impl(*xs: Any, spec: str) -> Any:
    return np.einsum(spec, *xs, optimize=_impl_optimizes(xs))


def _jvp(ts: list, ans: Any, *xs: Any, spec: str) -> Any:
    ins, out = parse(spec)
    total = None
    for i, t in enumerate(ts):
        if t is None:
            continue
        batch = fresh_labels(spec, ndim_of(t) - ndim_of(xs[i]))
        terms = list(ins)
        terms[i] = batch + terms[i]
        args = list(xs)
        args[i] = t
        term = einsum(*args, spec=",".join(terms) + "->" + batch + out)
        total = term if total is None else add(total, term)
    return total


def _vjp(i: int, g: Any, ans: Any, *xs: Any, spec: str) -> Any:
    ins, out = parse(spec)
    sizes = _sizes(ins, xs)
    batch = fresh_labels(spec, ndim_of(g) - len(out))
    dtype = getattr(g, "dtype", np.float64)
    terms = [batch + out] + [s for j, s in enumerate(ins) if j != i]
    args = [g] + [x for j, x in enumerate(xs) if j != i]
    # Operand i's labels, each occurrence after the first renamed and tied by an identity.
    target, seen = [], set()
    used = spec + batch
    for c in ins[i]:
        if c in seen:
            new = fresh_labels(used, 1)
            used += new
            terms.append(c + new)
            args.append(np.eye(sizes[c], dtype=dtype))
            target.append(new)
        else:
            seen.add(c)
            target.append(c)
    present = set("".join(terms))
    lonely = [c for c in dict.fromkeys(ins[i]) if c not in present]
    for c in lonely:  # summed only inside operand i: its cotangent is constant along c
        terms.append(c)
        args.append(np.ones(sizes[c], dtype=dtype))
    return einsum(*args, spec=",".join(terms) + "->" + batch + "".join(target))


def _step_flops(terms: list[str], keep: str, sizes: dict[str, int]) -> int:
    """One contraction of ``terms`` into labels ``keep``: (k - 1) products per point of the
    joint index space, plus one addition when a label is summed (a lone relabelling: 0)."""
    labels = set("".join(terms))
    return math.prod(sizes[c] for c in labels) * (len(terms) - 1 + (not labels <= set(keep)))


def _flops(ans: Any, *xs: Any, spec: str) -> int:
    ins, out = parse(spec)
    sizes = _sizes(ins, xs)
    if len(xs) <= 2 or not _impl_optimizes(xs):
        return _step_flops(ins, out, sizes)
    # the pairwise contractions np.einsum(optimize=True) performs, in its greedy order
    path = np.einsum_path(spec, *(np.broadcast_to(0.0, shape_of(x)) for x in xs),
                          optimize="greedy")[0][1:]
    terms, total = list(ins), 0
    for pick in path:
        taken = [terms[i] for i in pick]
        terms = [t for i, t in enumerate(terms) if i not in pick]
        needed = set("".join(terms)) | set(out)
        keep = "".join(dict.fromkeys(c for c in "".join(taken) if c in needed))
        total += _step_flops(taken, keep, sizes)
        terms.append(keep)
    return total


def _jax_einsum(*xs: Any, spec: str) -> Any:
    import jax.numpy as jnp

    return jnp.einsum(spec, *xs)


einsum_p = register(Primitive(
    "einsum", _impl, jvp=_jvp, vjp=_vjp, flops=_flops, saves="args", variadic=True,
    linear=False, jax_impl=_jax_einsum,
    sparsity=DENSE,
))
einsum = einsum_p.bind



# ---------------------------------------------------------------- NumPy's forms -> the primitive


# NumPy's letters for sublist labels: 0-25 are 'A'-'Z', 26-51 'a'-'z' (implicit output sorts them)
_SUBLIST_LABELS = string.ascii_uppercase + string.ascii_lowercase


def _sublists(args: tuple) -> tuple[str, list]:
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` -> ("ab,bc->ac", [a, b])."""
    def letters(sub: Any) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= s < len(LABELS):
                out.append(_SUBLIST_LABELS[int(s)])
            else:
                raise ValueError(f"einsum: sublist labels must be ints in [0, 52) or Ellipsis, "
                                 f"got {s!r}")
        return "".join(out)

    operands, subs = list(args[0::2]), [letters(s) for s in args[1::2]]
    if len(args) % 2:
        operands.pop()
        spec = ",".join(subs) + "->" + letters(args[-1])
    else:
        spec = ",".join(subs)
    return spec, operands


def _split_ellipsis(labels: str, nd: int, k: int) -> tuple[str, str, int]:
    if labels.count("...") > 1 or labels.replace("...", "").count("."):
        raise ValueError(f"einsum: operand {k}: invalid subscripts {labels!r}")
    head, _, tail = labels.partition("...")
    explicit = len(head) + len(tail)
    bad = [c for c in head + tail if c not in LABELS]
    if bad:
        raise ValueError(f"einsum: operand {k}: invalid label {bad[0]!r} (use letters)")
    if "..." not in labels:
        if explicit != nd:
            raise ValueError(f"einsum: operand {k} has {nd} axes but subscripts {labels!r} "
                             f"name {explicit}")
        return head, "", 0
    if explicit > nd:
        raise ValueError(f"einsum: operand {k} has {nd} axes but subscripts {labels!r} "
                         f"name {explicit}")
    return head, tail, nd - explicit


def einsum_call(subscripts: Any, *operands: Any) -> Any:
    """NumPy's ``einsum`` on any mix of plain, traced and JAX values (every subscript form)."""
    if not isinstance(subscripts, str):
        subscripts, ops_ = _sublists((subscripts, *operands))
        operands = tuple(ops_)
    spec = subscripts.replace(" ", "")
    ins_s, arrow, out_s = spec.partition("->")
    ins = ins_s.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(operands)} operands")
    parts = [_split_ellipsis(s, ndim_of(x), k) for k, (s, x) in enumerate(zip(ins, operands, strict=True))]
    n_ell = max((p[2] for p in parts), default=0)
    ell = fresh_labels(spec, n_ell)
    labels = [h + (ell[n_ell - e:] if e else "") + t for h, t, e in parts]
    if arrow:
        if "..." not in out_s and n_ell:
            raise ValueError("einsum: the output has no '...' but the operands have "
                             f"{n_ell} ellipsis axes")
        out = out_s.replace("...", ell)
        for c in out:
            if c not in LABELS or out.count(c) > 1 or not any(c in s for s in labels):
                raise ValueError(f"einsum: output label {c!r} is invalid, repeated, or in no "
                                 "operand")
    else:
        once = sorted(c for c in set("".join(h + t for h, t, _ in parts))
                      if "".join(labels).count(c) == 1)
        out = ell + "".join(once)
    return einsum(*_squeezed(labels, list(operands)), spec=",".join(labels) + "->" + out)


def _squeezed(labels: list[str], operands: list) -> list:
    """Drop the unit axes that broadcast against a longer axis of the same label (in place)."""
    sizes: dict[str, int] = {}
    for s, x in zip(labels, operands, strict=True):
        for c, n in zip(s, shape_of(x), strict=True):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {n}")
            sizes[c] = n if n != 1 else sizes.get(c, 1)
    for k, (s, x) in enumerate(zip(labels, operands, strict=True)):
        drop = tuple(i - len(s) for i, (c, n) in enumerate(zip(s, shape_of(x), strict=True))
                     if n == 1 and sizes[c] != 1)
        if drop:
            if any(s.count(s[i]) > 1 for i in drop):
                raise ValueError(f"einsum: repeated label in operand {k} broadcasts")
            operands[k] = ops.squeeze(x, axis=drop)
            labels[k] = "".join(c for i, c in enumerate(s) if i - len(s) not in drop)
    return operands


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """NumPy's ``tensordot``: ``axes`` an int N (last N of ``a`` with first N of ``b``) or a pair
    of axis sequences (or of single ints)."""
    na, nb = ndim_of(a), ndim_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(na, nb):
            raise ValueError(f"tensordot: axes={n} is out of range for ranks {na} and {nb}")
        ax_a, ax_b = list(range(na - n, na)), list(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of sequences, got "
                             f"{axes!r}") from None
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError("tensordot: the two axis lists have different lengths")
    try:
        ax_a = [int(x) % na if -na <= x < na else None for x in ax_a]
        ax_b = [int(x) % nb if -nb <= x < nb else None for x in ax_b]
    except ZeroDivisionError:
        raise ValueError("tensordot: a scalar has no axes to contract") from None
    if None in ax_a or None in ax_b:
        raise ValueError(f"tensordot: axes {axes!r} out of bounds for ranks {na} and {nb}")
    la, lb = list(LABELS[:na]), list(LABELS[na:na + nb])
    for i, j in zip(ax_a, ax_b, strict=True):
        if shape_of(a)[i] != shape_of(b)[j]:
            raise ValueError(f"tensordot: shape mismatch on contracted axes {i} and {j}")
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in ax_a] + [c for k, c in enumerate(lb)
                                                            if k not in ax_b]
    return einsum(a, b, spec="".join(la) + "," + "".join(lb) + "->" + "".join(out))
