"""A series' predictive samples do not depend on the chunk it is predicted in.

Batches are split when lengths are uneven (``PaddedSeries`` caps their padded size), so
the observation noise must not depend on a series' chunk or on how many query times its
chunk-mates have. Before, it was drawn from one generator that advanced chunk by chunk,
and the quantiles of series after the first chunk changed with the chunking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentode import LatentODEForecaster


def test_quantiles_of_each_series_alone_equal_those_in_a_split_batch() -> None:
    rng = np.random.default_rng(0)
    rows, queries = [], []
    for i in range(12):
        n = 200 if i == 3 else int(rng.integers(5, 10))  # one long series: its own chunk
        t = np.sort(rng.uniform(0.0, 6.0, n))
        rows.append(pd.DataFrame({"unique_id": f"s{i:02d}", "ds": t, "y": np.sin(t + i)}))
        ahead = t[-1] + np.arange(1, 2 + i % 3)  # 1 to 3 query times: chunks' Q differ
        queries.append(pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ahead}))
    df, at = pd.concat(rows, ignore_index=True), pd.concat(queries, ignore_index=True)
    est = LatentODEForecaster(
        latent_dim=3,
        encoder_hidden_dim=8,
        field_hidden_dim=16,
        method="rk4",
        max_epochs=2,
        batch_size=4,
        random_state=0,
        device="cpu",
    ).fit(df)
    together = est.predict_quantiles(df, at=at, alpha=[0.1, 0.9])
    for sid in ["s00", "s05", "s11"]:
        alone = est.predict_quantiles(
            df[df["unique_id"] == sid], at=at[at["unique_id"] == sid], alpha=[0.1, 0.9]
        )
        mine = together[together["unique_id"] == sid].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.reset_index(drop=True), rtol=1e-5, atol=1e-6)
