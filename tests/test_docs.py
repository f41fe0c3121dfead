"""The docstring examples run, and the README's Quickstart stays the two commands CI runs."""

import doctest
import pathlib
import re

import pytest

import sklearn_influence
from sklearn_influence import _estimator, _plots, _validation
from sklearn_influence._models import _custom, _mlp, _svm

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [_estimator, _svm, _custom, _mlp, _validation, _plots], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_public_names_are_exported():
    assert set(sklearn_influence.__all__) == {
        "AutogradModel",
        "InfluenceEstimator",
        "LeaveOneOutDisplay",
        "LeaveOneOutSearchCV",
        "loo_decision_function",
        "loo_predict",
        "loo_predict_interval",
        "loo_predict_proba",
        "MislabelCurveDisplay",
        "SmoothHingeClassifier",
        "TopInfluencesDisplay",
        "flatten_mlp_params",
        "mislabel_detection_curve",
        "rank_mislabel_candidates",
        "refine_mlp",
        "ResidualsLeverageDisplay",
        "training_set_attack",
        "unflatten_mlp_params",
        "validate_leave_one_out",
        "validate_leave_group_out",
        "__version__",
    }


def test_readme_quickstart_holds_exactly_two_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```(?:bash)?\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert "examples/quickstart.py" in block[0] and "pytest" in block[1]


def test_readme_documentation_block_builds_the_docs_with_warnings_as_errors():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Documentation", 1)[1]
    block = re.search(r"```(?:bash)?\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(block) == 1 and ".[docs]" in block[0] and "sphinx-build -W" in block[0]
    assert "## Documentation" in (ROOT / ".ci" / "run").read_text()


def test_every_example_has_a_gallery_title_and_every_public_name_is_in_the_api_reference():
    for script in sorted((ROOT / "examples").glob("*.py")):
        lines = script.read_text().splitlines()
        assert lines[0] == '"""' and set(lines[2]) == {"="} and len(lines[2]) >= len(lines[1]), script.name
    api = (ROOT / "docs" / "api.md").read_text()
    for name in sklearn_influence.__all__:
        if name != "__version__":
            assert name in api, name
