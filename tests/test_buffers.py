"""The pool of large output buffers: reused only when no array uses them any more."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.ops import buffers

LARGE = (256, 256)  # 512 KiB of float64, over MIN_BYTES


@pytest.fixture(autouse=True)
def _fresh_pool():
    was = buffers.set_enabled(True)
    buffers.release()
    yield
    buffers.release()
    buffers.set_enabled(was)


def test_small_arrays_are_plain():
    a = buffers.empty((8, 8), np.float64)
    assert a.base is None and a.shape == (8, 8) and a.dtype == np.float64
    assert buffers.pooled_bytes() == 0


def test_a_freed_buffer_is_reused_and_a_used_one_is_not():
    a = buffers.empty(LARGE, np.float64)
    first = id(a.base)  # not a reference: holding the buffer would keep it in use
    assert a.base is not None and a.flags.c_contiguous and a.flags.writeable
    del a
    b = buffers.empty(LARGE, np.float64)
    assert id(b.base) == first  # idle again: taken back
    c = buffers.empty(LARGE, np.float64)
    assert id(c.base) != first  # b still uses the first one
    assert buffers.pooled_bytes() == 2 * b.nbytes


@pytest.mark.parametrize("keep", [
    lambda a: a[1:, ::2],
    lambda a: a.reshape(-1)[::3],
    lambda a: memoryview(a),
    lambda a: [a.view(np.int64)],
    lambda a: np.broadcast_to(a, (2,) + LARGE),
], ids=["slice", "reshape", "memoryview", "view-in-list", "broadcast"])
def test_any_view_keeps_its_buffer_in_use(keep):
    a = buffers.empty(LARGE, np.float64)
    a[...] = 7.0
    first = id(a.base)
    kept = keep(a)
    del a
    b = buffers.empty(LARGE, np.float64)
    assert id(b.base) != first
    b[...] = 0.0
    assert np.asarray(kept if not isinstance(kept, list) else kept[0]).ravel()[0] != 0
    del kept
    assert id(buffers.empty(LARGE, np.float64).base) == first


def test_sizes_and_dtypes_share_buffers_by_bytes_only():
    a = buffers.empty(LARGE, np.float64)
    first = id(a.base)
    del a
    b = buffers.empty((512, 256), np.float32)  # the same bytes
    assert id(b.base) == first and b.dtype == np.float32 and b.shape == (512, 256)


def test_the_pool_stays_within_its_bound(monkeypatch):
    monkeypatch.setattr(buffers, "MAX_BYTES", 3 * 2**20)
    held = [buffers.empty((512, 256), np.float64) for _ in range(6)]  # 1 MiB each
    assert buffers.pooled_bytes() <= 3 * 2**20
    assert len({id(h.base) for h in held}) == 6
    del held
    for size in (300, 400, 500):
        buffers.empty((size, 1024), np.float64)
        assert buffers.pooled_bytes() <= 3 * 2**20


def test_disabled_pool_gives_plain_arrays():
    buffers.empty(LARGE, np.float64)
    assert buffers.set_enabled(False) is True
    assert buffers.pooled_bytes() == 0
    assert buffers.empty(LARGE, np.float64).base is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", [((300, 40), (40, 500)), ((3, 200, 40), (40, 300)),
                                    ((40,), (40, 20000)), ((5, 4), (4, 3))])
def test_matmul_matches_numpy(shapes, dtype):
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal(s).astype(dtype) for s in shapes)
    got = buffers.matmul(x, y)
    want = np.matmul(x, y)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_matmul_keeps_numpys_errors_and_other_dtypes():
    with pytest.raises(ValueError):
        buffers.matmul(np.ones((600, 3)), np.ones((4, 600)))
    ints = buffers.matmul(np.ones((600, 3), np.int64), np.ones((3, 600), np.int64))
    assert ints.dtype == np.int64 and ints.base is None


def _layer(a, b):
    return lambda x: dnp.tanh(dnp.matmul(a, dnp.tanh(dnp.matmul(b, x))))


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_a_kept_jacobian_is_never_overwritten(mode):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 64)) / 8, rng.standard_normal((64, 300)) / 17
    jac = getattr(dt, mode)(_layer(a, b))
    xs = [rng.standard_normal(300) for _ in range(3)]
    kept = [jac(x) for x in xs]  # each result held while the next is computed
    for x, j in zip(xs, kept, strict=True):
        h = np.tanh(b @ x)
        y = np.tanh(a @ h)
        want = (1 - y * y)[:, None] * (a * (1 - h * h)) @ b
        np.testing.assert_allclose(j, want, rtol=1e-10, atol=1e-12)
    again = jac(xs[0])
    np.testing.assert_allclose(again, kept[0], rtol=1e-12)


def test_threads_never_share_a_buffer():
    errors = []

    def work(k: int) -> None:
        for _ in range(200):
            a = buffers.empty(LARGE, np.float64)
            a.fill(k)
            if not (a[::37, ::41] == k).all():
                errors.append(k)
            del a

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_matmul_takes_lists_and_keeps_numpys_shape_errors():
    a = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(dnp.matmul(a, [1.0, 2.0, 3.0]), a @ np.array([1.0, 2.0, 3.0]))
    g = dt.grad(lambda m: dnp.sum(m @ [1.0, 2.0, 3.0]))(a)
    np.testing.assert_array_equal(g, np.tile([1.0, 2.0, 3.0], (3, 1)))
    with pytest.raises(ValueError, match="mismatch"):  # not a huge allocation first
        buffers.matmul(np.ones((200000, 1)), np.ones((2, 200000)))
    with pytest.raises(ValueError):
        buffers.matmul(np.ones(3), np.array(2.0))


def test_a_busy_lock_skips_the_pool_instead_of_waiting():
    assert buffers._lock.acquire()
    try:  # as if a signal handler on this thread ran while empty() held the lock
        a = buffers.empty(LARGE, np.float64)
    finally:
        buffers._lock.release()
    assert a.base is None and a.shape == LARGE


def test_arrays_larger_than_the_pool_are_plain():
    big = buffers.MAX_BYTES // 8 + 1
    assert buffers.empty((big,), np.float64).base is None
    assert buffers.pooled_bytes() == 0


def test_a_stack_times_a_matrix_with_an_empty_inner_dimension_is_zeros():
    from dualtape import ops

    got = ops.matmul(np.ones((2, 3, 0)), np.ones((0, 5)))
    assert got.shape == (2, 3, 5) and not got.any()


def test_products_of_non_native_byte_order_are_numpys():
    """A big-endian operand's product has NumPy's (native) dtype, on the pooled and outer paths."""
    for shapes in (((4, 1), (1, 3)), ((300, 200), (200, 300))):
        a, b = (np.ones(s, ">f8") for s in shapes)
        assert dnp.matmul(a, b).dtype.str == np.matmul(a, b).dtype.str
        np.testing.assert_array_equal(dnp.matmul(a, b), np.matmul(a, b))
