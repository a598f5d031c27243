"""Every detector, classifier and screen keeps scikit-learn's estimator contract (one test for all)."""

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_get_params_invariance, check_no_attributes_set_in_init

from dbrain.detect import PatternClassifier, SeizureDetector
from dbrain.detect.spikes import SpikeDetector
from dbrain.diagnosis import ADHDScreen, DementiaScreen, EpilepsyScreen
from dbrain.errors import ParameterError

ESTIMATORS = [SeizureDetector, SpikeDetector, PatternClassifier, DementiaScreen, EpilepsyScreen, ADHDScreen]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_sklearn_checks_that_apply(cls):
    # The checks that need only the constructor; fit takes recordings or feature tables, not arrays.
    check_no_attributes_set_in_init(cls.__name__, cls())
    check_get_params_invariance(cls.__name__, cls())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_clone_set_params_and_repr(cls):
    est = cls()
    params = est.get_params()
    copy = clone(est)
    assert copy is not est and copy.get_params().keys() == params.keys()
    name = sorted(params)[0]
    assert est.set_params(**{name: params[name]}) is est
    with pytest.raises((ParameterError, ValueError)):
        est.set_params(no_such_parameter=1)
    assert repr(est).startswith(cls.__name__ + "(")


@pytest.mark.parametrize("cls", [SeizureDetector, SpikeDetector, PatternClassifier])
def test_detectors_share_one_base(cls):
    from dbrain.detect._base import BaseDetector

    assert issubclass(cls, BaseDetector)
    assert "set_params" not in vars(cls) and "get_params" not in vars(cls)


@pytest.mark.parametrize("cls", [SeizureDetector, PatternClassifier])
def test_parallel_and_seed_parameters_are_named_alike(cls):
    params = cls().get_params()
    for name in ("n_jobs", "random_state"):
        if name in params:
            assert isinstance(params[name], int | None)
