"""The one contract of dbrain's detectors and classifiers: scikit-learn's estimator API.

``get_params``/``set_params``/``clone``/``repr`` come from :class:`sklearn.base.BaseEstimator` (read from
the ``__init__`` signature, so no detector writes its own); ``__init__`` stores parameters and nothing else;
parameters are validated when the estimator is used (``fit``, ``detect``), never in ``__init__``.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator

from ..errors import ParameterError
from ..utils.check import _suggest


class BaseDetector(BaseEstimator):
    """Base of :class:`SeizureDetector`, :class:`SpikeDetector` and :class:`PatternClassifier`.

    A fitted attribute that only restates parameters (a preset's threshold) is named in
    ``_derived_attributes`` and dropped by :meth:`set_params`, so a changed parameter can never leave a
    stale value behind: the next use fits again. Learned state (a trained model) is kept, as in
    scikit-learn, until the next :meth:`fit`.
    """

    #: Fitted attributes computed from parameters alone (dropped by set_params).
    _derived_attributes: tuple[str, ...] = ()

    def set_params(self, **params):
        """Set parameters (unknown names are an error) and forget values derived from the old ones.

        Parameters
        ----------
        **params
            Parameter values by name.

        Returns
        -------
        self
        """
        valid = self._get_param_names()
        for key in params:
            if key not in valid:
                raise ParameterError(
                    f"{type(self).__name__} has no parameter {key!r}.{_suggest(key, valid)} Valid: {', '.join(valid)}"
                )
        super().set_params(**params)
        for name in self._derived_attributes:
            self.__dict__.pop(name, None)
        return self
