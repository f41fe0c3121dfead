"""Every example runs (small-data flag where it has one), so examples cannot rot."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
SMALL_FLAG = {
    "plot_smooth_hinge.py": ["--small"],
    "plot_mlp_damping.py": ["--small"],
    "plot_digits_helpful_harmful.py": ["--small"],
    "plot_domain_mismatch.py": ["--small"],
    "plot_mislabeled.py": ["--small"],
    "plot_training_set_attack.py": ["--small"],
    "plot_tabular_pipeline.py": ["--small"],
    "plot_fairness_audit.py": ["--small"],
    "plot_data_valuation.py": ["--small"],
    "plot_beyond_one_machine.py": ["--small"],
}


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *SMALL_FLAG.get(script, [])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip()
