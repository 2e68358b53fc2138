"""The measurement base (dualtape.measure): timing, files, environment, derived pairs."""

from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dualtape.measure import env, files, timing
from dualtape.measure.files import write_atomic
from dualtape.study import Method, methods, register_method


def test_sample_keeps_every_repeat_and_restores_the_collector():
    calls = []
    was = gc.isenabled()
    out = timing.sample(lambda: calls.append(1), timing.TimingConfig(target_s=1e-3, repeats=3,
                                                                      warmup=2))
    assert out.calls >= 1 and len(out.seconds) == 3 == len(out.faults)
    assert len(calls) >= 2 + 3 * out.calls and gc.isenabled() == was


@pytest.mark.parametrize("policy, enabled_inside", [("off", False), ("collect", True)])
def test_gc_policies(policy, enabled_inside):
    seen = []
    with timing.gc_policy(policy):
        seen.append(gc.isenabled())
        frozen = gc.get_freeze_count()
    assert seen == [enabled_inside]
    assert (frozen > 0) == (policy == "collect") and gc.get_freeze_count() == 0


@pytest.mark.parametrize("field, value", [("target_s", 0), ("repeats", 0), ("warmup", -1),
                                          ("max_calls", 1.5), ("gc", "sometimes"),
                                          ("warmup_s", -1.0)])
def test_timing_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=f"TimingConfig.{field}"):
        timing.TimingConfig(**{field: value})


def test_calibrate_aims_at_the_target_and_ignores_one_slow_run(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    calls = [0]

    def call():  # 100 us a call; the 5th call is descheduled for 50 ms
        calls[0] += 1
        clock[0] += 0.05 if calls[0] == 5 else 1e-4

    assert timing.calibrate(call, timing.TimingConfig(target_s=0.02)) == 200
    assert timing.calibrate(call, timing.TimingConfig(target_s=0.02, max_calls=50)) == 50


def test_write_atomic_text_bytes_and_writer(tmp_path: Path):
    target = tmp_path / "sub" / "f.txt"
    files.write_atomic(target, "one")
    files.write_atomic(target, b"two")
    assert target.read_text() == "two"
    files.write_atomic(target, lambda tmp: tmp.write_text("three"))
    assert target.read_text() == "three"

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        files.write_atomic(target, broken)
    assert target.read_text() == "three"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_append_durable_and_json(tmp_path: Path):
    path = tmp_path / "rows.csv"
    files.append_durable(path, "a\n")
    files.append_durable(path, "b\n")
    assert path.read_text() == "a\nb\n"
    files.write_json(tmp_path / "e.json", {"x": 1, "p": Path("/tmp")})
    assert json.loads((tmp_path / "e.json").read_text()) == {"x": 1, "p": "/tmp"}


def test_environment_record_has_what_summaries_read():
    record = env.environment(["dualtape", "study", "run", "x"])
    for key in ("host", "cpu", "cores", "cores_usable", "blas", "python", "numpy", "jax",
                "dualtape", "git", "load_average", "command", "thread_variables"):
        assert key in record, key
    assert record["command"] == "dualtape study run x"
    assert {"name", "version", "threads"} <= set(record["blas"])


def test_git_state_is_dirty_for_code_but_not_for_regenerated_results(tmp_path: Path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("a = 1\n")
    (tmp_path / "results" / "data.csv").write_text("x\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    assert env.git_state(tmp_path)["dirty"] is False
    (tmp_path / "results" / "data.csv").write_text("y\n")  # a regeneration
    assert env.git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("a = 2\n")
    assert env.git_state(tmp_path)["dirty"] is True


def test_pairs_are_derived_from_mode_and_chunk():
    builtin = set(methods.ALL_METHODS)
    pairs = [p for p in methods.forward_reverse_pairs() if set(p) <= builtin]
    assert pairs == [("fwd_chunk1", "rev_chunk1"), ("fwd_vector", "rev_vector"),
                     ("fwd_chunk8", "rev_chunk8"), ("jax_jacfwd_jit", "jax_jacrev_jit"),
                     ("jax_jacfwd", "jax_jacrev")]
    make = methods.get_method("fwd_chunk8").make
    for mode in ("forward", "reverse"):
        register_method(Method(f"test_{mode}_c3", mode, mode, "dualtape", make, chunk=3),
                        replace=True)
    assert ("test_forward_c3", "test_reverse_c3") in methods.forward_reverse_pairs()
    assert methods.forward_reverse_pairs({"fwd_chunk1", "rev_chunk1", "rev_vector"}) == [
        ("fwd_chunk1", "rev_chunk1")]
    assert methods.method_label("not_registered") == "not_registered"


BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('pandas', 'matplotlib', 'jax', 'jaxlib', 'tqdm'):
            raise ImportError(f'blocked: {name}')
sys.meta_path.insert(0, Block())
import dualtape
assert 'dualtape.measure' not in sys.modules, 'import dualtape imported the measurement base'
from dualtape.measure import env, files, timing
from dualtape.measure.files import write_atomic
timing.sample(lambda: None, timing.TimingConfig(target_s=1e-4, repeats=1))
env.environment([])
print('ok')
"""


def test_base_imports_without_pandas_matplotlib_or_jax():
    done = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_cpu_clock_is_a_timing_option(monkeypatch):
    with pytest.raises(ValueError, match="clock"):
        timing.TimingConfig(clock="sundial")
    cpu = [0.0]
    monkeypatch.setattr(timing.time, "process_time", lambda: cpu[0])

    def call():  # 1 ms of CPU a call, whatever the wall clock says
        cpu[0] += 1e-3

    got = timing.interleaved({"a": call, "b": call},
                             timing.TimingConfig(target_s=0.01, repeats=3, clock="cpu"))
    assert set(got) == {"a", "b"} and all(len(v) == 3 for v in got.values())
    assert all(abs(s - 1e-3) < 1e-9 for v in got.values() for s in v)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_atomic_gives_the_mode_the_umask_gives(tmp_path: Path, umask, mode):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.txt", "x")
        write_atomic(tmp_path / "b.txt", lambda p: p.write_text("y"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_write_atomic_names_the_file_asked_for_when_it_cannot_replace_it(tmp_path):
    # was: the error named the temporary file (".summary.md.x1y2.tmp: Is a directory")
    from dualtape.measure.files import write_atomic

    (tmp_path / "summary.md").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        write_atomic(tmp_path / "summary.md", "text")
    assert caught.value.filename == str(tmp_path / "summary.md")
    assert ".tmp" not in str(caught.value) and sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]
