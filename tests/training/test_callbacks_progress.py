"""The fit's progress bar: on a terminal by default, counting the time budget when set."""

from __future__ import annotations

import re

import pytest

from latentode import LatentODEForecaster
from latentode.datasets import make_periodic
from latentode.training import ProgressBar

FAST = dict(latent_dim=2, encoder_hidden_dim=4, field_hidden_dim=8, batch_size=8, random_state=0)
# _bars reads the callbacks of an unfitted estimator: a patience that needs no data.
UNFITTED = dict(FAST, patience=20)


def _bars(est: LatentODEForecaster) -> list[ProgressBar]:
    return [cb for cb in est._fit_callbacks(has_validation=True) if isinstance(cb, ProgressBar)]


def test_every_fit_gets_a_bar_shown_on_a_terminal_unless_verbose() -> None:
    (quiet,) = _bars(LatentODEForecaster(**UNFITTED))
    assert quiet.disable is None  # tqdm: shown on a TTY, hidden in logs and CI
    (loud,) = _bars(LatentODEForecaster(**UNFITTED, verbose=True))
    assert loud.disable is False
    (timed,) = _bars(LatentODEForecaster(**UNFITTED, max_time=30))
    assert timed.max_seconds == 30


@pytest.mark.parametrize("max_time", [None, 2.0])
def test_the_bar_counts_seconds_of_the_budget_or_epochs(
    max_time: float | None, capsys: pytest.CaptureFixture[str]
) -> None:
    df = make_periodic(n_series=8, n_points=10, random_state=0)
    est = LatentODEForecaster(**FAST, max_epochs=3, max_time=max_time, verbose=True)
    est.fit(df)
    err = capsys.readouterr().err
    if max_time is None:
        assert re.search(r"3/3 \[", err), err[-500:]
    else:
        assert re.search(r"\d/2 s, epoch=\d", err), err[-500:]  # seconds of the budget
