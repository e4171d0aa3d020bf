"""The code MLflow runs to build a logged latentode model ("models from code").

A logged model holds this file instead of a cloudpickled ``python_model``: loading it runs
these lines (and imports :mod:`latentode` from the model's ``code`` copy or the
environment), never unpickles an object. The estimator itself is read by
:meth:`LatentODEPyfunc.load_context` with ``weights_only=True`` after its files' SHA-256
digests were checked.
"""

from mlflow.models import set_model

from latentode.tracking._pyfunc import LatentODEPyfunc

set_model(LatentODEPyfunc())
