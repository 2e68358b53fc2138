"""A missing optional extra is one line naming it, from the CLI and from dt.compare."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import dualtape as dt
from dualtape import extras
from dualtape.cli import main


def _hide(monkeypatch, module):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module else real(name, *a))


@pytest.fixture
def no_tqdm(monkeypatch):
    _hide(monkeypatch, "tqdm")


@pytest.mark.parametrize("argv", [["study", "run", "jacobian_scaling"], ["study", "list"],
                                  ["study", "plot", "jacobian_scaling"],
                                  ["compare", "model.py:predict"]])
def test_cli_without_the_study_extra_is_one_line(capsys, tmp_path, monkeypatch, no_tqdm, argv):
    monkeypatch.chdir(tmp_path)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"dualtape {' '.join(argv[:2 if argv[0] == 'study' else 1])}: error: "
                          "needs the [study] extra (tqdm not installed)")
    assert 'pip install "dualtape[study]"' in err
    assert not (tmp_path / "results").exists()  # nothing written


def test_compare_without_the_study_extra_names_it(no_tqdm):
    with pytest.raises(ImportError, match=r"dt.compare needs the \[study\] extra"):
        dt.compare(lambda x: x * 2.0, np.ones(3))


def test_check_against_jax_without_jax_names_the_extra(monkeypatch):
    _hide(monkeypatch, "jax")
    with pytest.raises(ImportError, match=r"dt.check_against_jax needs the \[jax\] extra"):
        dt.check_against_jax(lambda x: x * 2.0, np.ones(3))


def test_sparse_without_scipy_is_one_exception_naming_the_extra():
    code = ("import sys; sys.modules['scipy'] = None\n"  # as if SciPy were not installed
            "import numpy as np, dualtape as dt\n"
            "dt.jacobian_sparsity(lambda x: x * 2.0, np.ones(3))")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert err.count("Traceback") == 1  # not SciPy's ImportError chained before ours
    last = err.strip().splitlines()[-1]
    assert last.startswith("dualtape.extras.MissingExtraError: dualtape.sparse needs the [sparse] "
                           "extra (")
    assert last.endswith('install it with: pip install "dualtape[sparse]"')


def test_nothing_missing_with_the_extra_installed():
    assert extras.missing("study") == extras.missing("jax") == []
