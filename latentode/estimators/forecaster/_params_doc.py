"""The documentation of ``LatentODEForecaster``'s own hyper-parameters, with the
measurements behind their defaults (filled into the class docstring; the constraints are
in :mod:`latentode.estimators.forecaster._build`)."""

from __future__ import annotations

__all__ = ["PARAMETERS_DOC"]

#: The numpydoc text of the parameters in
#: :data:`latentode.estimators.forecaster._build.CONSTRAINTS` that are not shared groups.
PARAMETERS_DOC = """\
    model : {"latent_ode", "ode_rnn"}, default="latent_ode"
        ``"ode_rnn"`` is the deterministic ODE-RNN baseline run forwards in time (its
        hidden state is ``encoder_hidden_dim`` wide; ``latent_dim`` and ``posterior`` are
        unused, predictive spread is observation noise only, ``score_samples`` is its exact
        one-step-ahead log-likelihood).
    latent_dim : int, default=8
        Size of the latent state ``z``.
    encoder : {"odernn", "gru", "grud"}, default="odernn"
        ODE-RNN (hidden state follows an ODE between observations), a GRU fed the gaps, or
        GRU-D (inputs and state decay over the gaps; Che et al., 2018). Encoders live in
        :data:`latentode.nn.registry.ENCODERS`. Measured (300 s per set,
        ``benchmarks/results/real_encoder.json``): on the four real sets the three score
        alike (CRPS within 0.003 but flights extrapolation, 0.383 for the ODE-RNN against
        0.391 / 0.390); on the periodic protocol (240 s side by side) the GRU's epochs are
        1.2x faster but it extrapolates at MSE 0.025 against the ODE-RNN's 0.013.
    encoder_hidden_dim : int, default=32
    field_hidden_dim, field_layers : int, default=64, 2
        The latent vector field's MLP.
    activation : {"tanh", "softplus", "relu", "elu"}, default="tanh"
    time_dependent : bool, default=False
        Whether the latent dynamics see (normalised) absolute time.
    time_span : float, default=5.0
        Solver time units per median training-series span. The latent field's speed is
        measured in these units: series with many oscillations per span train faster when
        this is larger (the reference code's periodic data spans 5 units).
    posterior : {"gaussian", "ffjord"}, default="gaussian"
        Family of ``q(z0 | x)``: a diagonal Gaussian, or that Gaussian pushed through a
        FFJORD continuous normalising flow conditioned on the encoder summary (can express
        multimodal and skewed posteriors; its KL term is a Monte-Carlo estimate).
    flow_hidden_dims : tuple of int, default=(32, 32)
        ``posterior="ffjord"``: hidden widths of each flow block's concat-squash MLP.
    flow_blocks : int, default=1
        ``posterior="ffjord"``: number of stacked CNF blocks.
    flow_divergence : {"exact", "hutchinson"}, default="exact"
        ``posterior="ffjord"``: trace estimator of ``log q`` during training (exact trace:
        ``latent_dim`` Jacobian-vector products per evaluation; Hutchinson: one).
        Evaluation always uses the exact trace. The flow uses the decoder's solver settings.
    flow_kinetic_weight, flow_jacobian_weight : float, default=0.0
        ``posterior="ffjord"``: weights of the flow's kinetic-energy and Jacobian-Frobenius
        regularisers (Finlay et al., 2020), added to the training loss per observed value
        (reported as ``flow_penalty`` in ``history_``); they keep the flow's evaluations
        from growing during training. Ignored by the Gaussian posterior.
    observation : {"anchored", "gaussian"}, default="anchored"
        The observation model ``p(x | z(t))``. ``"gaussian"``: ``N(g(z), σ_d²)``, all
        that is known about a series passes through ``z0``. ``"anchored"``: each value is
        modelled around the interpolation of the nearest observations the encoder saw
        (last value beyond them), corrected by ``g(z(t), gaps)``, with a noise scale that
        grows with the distance to those observations (``model="latent_ode"``; the ODE-RNN
        baseline always uses ``"gaussian"``).
        It also regresses each value on the other features observed at the same time
        (started at the least-squares fit on the training rows), for values hidden from a
        measured step. Measured on the four real sets of ``benchmarks/real.py`` (full sets,
        300 s, with ``value_dropout=0.3``, ``latent_weight=1``, ``beta_nll=0.5``), against
        ``"gaussian"``: CRPS lower in all 8 set × task cells (pbcseq interpolation 0.426 →
        0.302, flights 0.443 → 0.234, remifentanil extrapolation 0.054 → 0.027; flights
        extrapolation 0.415 → 0.414 the closest), and lower than every baseline on both
        nafld and pbcseq tasks and flights interpolation (``benchmarks/RESULTS.md``).
        On the synthetic periodic set
        (``benchmarks/periodic.py --defaults``, 240 s) it extrapolates worse (MSE 0.17 vs
        0.055) and interpolates far better (0.0018 vs 0.026): for forecasts beyond the data
        of smooth, fully latent dynamics ``"gaussian"`` is the better choice.
    latent_weight : float, default=1.0
        ``observation="anchored"``: weight of the latent path's own log-density in the
        training loss, ``x_d ~ N(g(z(t))_d, τ_d²)`` with a learned ``τ`` (0: the anchored
        mixture's bound alone; the bound that ``score`` and ``score_samples`` report is the
        mixture's either way). Without it the anchors explain what the context shows and
        the latent state learns little: on the periodic set (defaults, 240 s) the latent
        decode alone extrapolated at MSE 0.53, with it at 0.062, so ``transform``'s ``z0``
        describes the series. Forecasts: on the four real sets of ``benchmarks/real.py``
        (300 s, euler) MSE lower or equal in all 8 set × task cells, CRPS lower in 3
        (flights 0.439 → 0.430 and 0.260 → 0.250), equal in 2, higher in 3 (nafld 0.307 →
        0.311 and 0.295 → 0.300, remifentanil interpolation 0.080 → 0.085)
        (``benchmarks/results/real_latent_weight.json``). Series anomaly scores
        (``benchmarks/anomaly.py --quick``, 15 set × anomaly types): a density of ``z0``
        (``FFJORDDensity`` on ``transform``) ranks anomalies better in 10 of them
        (periodic reversed AUROC 0.69 → 0.98, amplitude 0.73 → 0.98); ``score_samples``
        per observation worse in 7 (4 of the 5 on pbcseq; level shift 0.87 → 0.64),
        better in 6, equal in 2 (both runs with ``beta_nll=0``:
        ``benchmarks/results/anomaly_latent_weight*.json``). The default is 1
        for a latent state that models the series at no measurable cost to forecasts; 0
        where ``score_samples`` ranks the anomalies that matter.
    beta_nll : float, default=0.5
        ``observation="anchored"``: in training, each value's log-density is weighted by
        its predicted variance to this power (held fixed, scaled to mean 1; β-NLL, Seitzer
        et al., 2022); 0 trains on the plain bound. The anchored head learns a noise scale
        per value, and where its mean fits badly it can widen that scale instead, after
        which those values teach the mean little: on the periodic set (defaults, 240 s)
        the forecast beyond the data stayed near the series' mean (extrapolation MSE 0.53,
        interpolation 0.0062); with 0.5, 0.17 and 0.0018. On the four real sets of
        ``benchmarks/real.py`` (300 s, euler) CRPS and MSE were lower in 7 of 8 set × task
        cells (pbcseq interpolation CRPS 0.314 → 0.302, flights 0.250 → 0.234, nafld
        extrapolation 0.311 → 0.303; remifentanil interpolation 0.085 → 0.093 is the
        exception; ``benchmarks/results/real_beta_nll.json``). ``score`` and
        ``score_samples`` always report the unweighted bound.
    obs_std : float or None, default=None
        Observation noise scale in standardised feature units; None learns one per feature
        (for ``"anchored"``: the base scale, adjusted per point).
    calibrate_noise : {"crps", "likelihood"} or bool, default="crps"
        With a learned noise scale and validation series, re-fit it after training on the
        validation series' predictions (the ELBO's scale also absorbs the posterior's
        spread, which predictive draws add again; see ``noise_calibration_``): to
        minimise their CRPS (``"crps"``, or True) or maximise their predictive likelihood
        (``"likelihood"``, the default before); False keeps the trained scale. On the four
        real sets of ``benchmarks/real.py`` (the same 100 training epochs for both;
        ``benchmarks/results/real_calibration.json``) "crps" lowered CRPS in 7 of the 8
        set × task cells: by 2-3 % on the clinical sets, by 4 % on flights extrapolation,
        by 21-24 % on remifentanil (0.028 → 0.022, 0.094 → 0.071); flights interpolation
        rose 1 % (0.238 → 0.241, its coverage 0.76 → 0.68). 80 % coverage went from
        0.76-0.98 to 0.68-0.90 (0.77-0.81 on the clinical sets); the mean, hence MSE, is
        unchanged. The likelihood lets a few values far from every prediction widen every
        band. With the anchored head, values hidden at a step where another feature was
        observed get their own multiplier (``noise_calibration_["concurrent_ratio"]``)
        when the validation series have enough of them: on flights, same weights
        (``benchmarks/results/calibration.json``), interpolation coverage 0.67 → 0.77 and
        CRPS 0.268 → 0.263.
    noise : {"gaussian", "student_t"}, default="gaussian"
        The observation noise family. ``"student_t"``: after training, the noise
        calibration also chooses, per feature, Student-t degrees of freedom (2 to 50, or
        Gaussian) by the validation series' predictive likelihood, then the width by
        ``calibrate_noise``'s metric; bands, draws and ``score_samples`` use those tails
        (``noise_calibration_["df"]``; None: Gaussian). Training is unchanged, so the mean
        and MSE are the same. Needs ``calibrate_noise`` and ``obs_std=None``. Not the
        default: after the same 100 epochs on the four real sets
        (``benchmarks/results/real_noise.json``) it chose 2-3 degrees of freedom for
        flights' delays, yet every CRPS moved by at most 0.001 and coverage moved away
        from 0.80 as often as towards it. For heavy-tailed features whose densities
        (``score_samples``) or far quantiles matter.
    decoder_hidden_dim : int, default=0
        Hidden width of the observation map (0: linear; the anchored head uses 32).
    method : str, default="euler"
        Decoder solver (any torchdiffeq method). ``rtol``, ``atol``, ``max_num_steps``,
        ``n_substeps`` (fixed-step methods without a ``step_size``: steps per interval)
        tune it. ``"euler"`` on each series' own grid is the default because it was the
        best measured choice on CPU within a time budget, and every fit checks it
        against a tight ``dopri5`` solve (``solver_check_``, ``SolverAccuracyWarning``):
        on the periodic protocol (``benchmarks/periodic.py --defaults``, 240 s, the two
        runs side by side) 171 epochs against 73 for ``"dopri5"``, interpolation MSE
        0.0007 against 0.0027 and extrapolation 0.028 against 0.45; on the four real sets
        (``benchmarks/real.py``, 300 s each, ``real_method.json``) 1.4-3× the epochs,
        lower CRPS in 6 of 8 set × task cells (nafld 0.299 / 0.280 against 0.304 / 0.283,
        pbcseq 0.356 / 0.274 against 0.362 / 0.284), higher on remifentanil interpolation
        (0.051 against 0.048) and flights extrapolation (0.389 against 0.387), and
        forecasts 2-4× faster (flights alike). ``"dopri5"`` (a step size per series) is
        the choice for stiff or fast dynamics.
    step_size : float or None, default=0.1
        Fixed-step methods, in solver time units (see ``time_span``). The decoder's
        ``euler``/``midpoint``/``rk4`` steps follow each series' own grid
        ``t0 ± j·step_size`` and reach a query by one partial step, so a forecast does not
        depend on which other times are queried (with ``adjoint=True`` too). The ODE-RNN
        encoder has its own step, ``encoder_step_size``.
    adjoint : bool, default=False
        Back-propagate with the adjoint method through the decoder's solve: it keeps the
        solver's states instead of a graph. On the step grid (``step_size``) it takes the
        direct solve's steps and trajectory (300 queries of 5 series: 66 evaluations
        forward and 66 backward; before, one step per query gap: 616 and 616), and its
        Euler gradients are the continuous adjoint's, within O(``step_size``) of back-
        propagation's (rk4: to 1e-6). The step grid's graph is small already, so it saves
        little memory there; for long series use ``memory="low"``.
    memory : {"auto", "low"}, default="auto"
        How training trades time for memory on long series (``model="latent_ode"``).
        ``"auto"``: the encoder's loop is checkpointed in segments from 2,048 steps or
        262,144 series-steps a batch, and batches of more than 4,096 query times are
        reconstructed in checkpointed blocks. ``"low"``: every encoder loop longer than
        256 steps is checkpointed, the blocks are 256 query times (each solving its own
        states and anchor features), so an epoch's peak memory hardly grows with the
        length. ``benchmarks/memory.py`` (one epoch, 32 series in one batch, peak RSS,
        medians of 3 runs): at 100 / 1,000 / 10,000 points ``"low"`` peaked at 477 / 501 /
        543 MB (+5 % and +8 % per 10× length; 35 MB of it is the input frame) for 1.4× /
        2.1× the epoch time of ``"auto"`` at 1,000 / 10,000 points, which peaked at 480 /
        580 / 763 MB in 1.2 / 2.5 / 53 s. The
        choice changes where the graph is kept, not the bound: losses agree to float
        rounding.
    encoder_method : str, default="euler"
        Solver of the ODE-RNN's hidden ODE.
    encoder_step_size : float or None, default=0.5
        Fixed-step ``encoder_method``: the ODE-RNN crosses each gap between a series'
        observations in ``ceil(gap / encoder_step_size)`` equal steps (None: one step per
        gap), in solver time units. The encoder loops over the observations of a batch
        together, so each loop step costs the most steps any series of the batch needs
        there: with the decoder's 0.1 (the encoder's step before this parameter) a
        periodic batch of 100 series took 5.9 field evaluations per observation, a third
        of an epoch. The hidden state is corrected by the GRU at every observation, so a
        coarse step loses little: on the periodic protocol (``benchmarks/periodic.py
        --defaults``, 240 s, the two runs side by side) 0.5 made 385 epochs against 254
        for 0.1 (0.59 against 0.87 s an epoch beside one other process), interpolation MSE 0.0005
        against 0.0007 and extrapolation 0.017 against 0.028; on the four real sets
        (``benchmarks/real.py``, 300 s, ``real_encoder_step.json``) CRPS and MSE within
        noise of 0.1 in every cell (nafld 0.299 / 0.281 against 0.302 / 0.282, pbcseq
        0.358 / 0.282 against 0.354 / 0.279, remifentanil and flights equal to three
        decimals). Models saved before this parameter load with their ``step_size``.
    lr : float, default=1e-2
    lr_decay : float, default=0.995
        Multiplicative learning-rate decay per epoch (``lr_schedule="exponential"``).
    lr_schedule : {"exponential", "cosine"}, default="exponential"
        ``"cosine"``: the learning rate falls from ``lr`` to 1 % of it along a half cosine
        over the training budget — steps over ``max_epochs`` epochs or, with
        ``max_time``, elapsed seconds over ``max_time``, whichever is further on — so a fit
        ends annealed whichever budget binds (``lr_decay`` is then unused). Not the
        default: on the real sets of ``benchmarks/real.py`` (300 s against the exponential
        decay; ``benchmarks/results/real_cosine.json``) it helped remifentanil (CRPS
        0.012 → 0.007 and 0.059 → 0.053), left nafld and flights within noise, and hurt
        pbcseq (0.356 → 0.366 and 0.273 → 0.283: early stopping ended the fit at 110 s,
        before the rate had come down).
    batch_size : int, default=100
        Series per optimisation step. These models are small, so a step's time is mostly
        per-operation overhead and a larger batch buys more data per second: on the
        periodic protocol (``benchmarks/periodic.py --defaults``, 240 s, seed 0, each run
        beside another process) an epoch took 0.81 / 0.57 / 0.41 s at batch 50 / 100 /
        200, and the fits reached interpolation / extrapolation MSE 0.0006 / 0.019 (304
        epochs), 0.0004 / 0.0074 (413) and 0.0005 / 0.014 (569). On the real sets of
        ``benchmarks/real.py`` (300 s; ``benchmarks/results/real_batch.json`` against
        ``real_patience1000.json``, not paired in load) batch 100 scored at or below batch
        50's CRPS in every cell (nafld 0.300 / 0.279 against 0.303 / 0.282, pbcseq 0.354 /
        0.279 against 0.357 / 0.279, flights 0.383 / 0.235 against 0.388 / 0.236;
        remifentanil's 45 training series fit in one batch either way), batch 200 within
        0.005 of it (flights interpolation 0.241). 100 is the default (50 before).
    max_epochs : int, default=1000
        An upper bound: early stopping (``patience``) or ``max_time`` usually ends a fit
        first. 200, the default before, cut fits short of what a time budget buys: on the
        periodic protocol (``benchmarks/periodic.py --defaults``, ``max_time=240``) it
        stopped training at 174 s with the best epoch the 197th (extrapolation MSE 0.024);
        with 1000 the fit used its 240 s, 319 epochs, and reached 0.0094 (interpolation
        0.0007 → 0.0004; seed 0 — with seed 1 early stopping ended the fit at epoch 70).
        The real-data figures (300 s per set) trained 167-1,200 epochs.
        Without ``max_time`` a large set can then train for many minutes: set ``max_time``
        for a wall-clock budget.
    max_time : float or None, default=None
        Stop training after this many seconds.
    n_train_samples : int, default=1
        Posterior samples per series and step.
    bound : {"elbo", "iwae"}, default="elbo"
        Training objective.
    kl_warmup_epochs : int, default=10
        Epochs over which the KL weight rises linearly from 0 to 1.
    extrap_prob : float, default=0.5
        Training: share of series whose encoder sees only a random prefix (fraction in
        ``[min_prefix, 1]`` of its span) while the whole series is reconstructed — teaches
        extrapolation.
    min_prefix : float, default=0.3
    context_dropout : float, default=0.5
        Training: for the other series, each observation is hidden from the encoder with
        this probability (and still reconstructed) — teaches interpolation.
    value_dropout : float, default=0.3
        Training: each value of the steps the encoder does see is hidden with this
        probability too (and still reconstructed) — teaches filling in single missing values
        from the other features observed at the same time, and lets the noise calibration
        see such gaps. Measured with the anchored head (60 s, real sets): 80 % interval
        coverage of hidden single values 0.25 → 0.85 on pbcseq and 0.17 → 0.75 on flights
        with 0.3 instead of 0.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the series and stop after ``patience`` epochs
        without improvement of the validation loss; keep the best weights.
    validation_fraction : float, default=0.1
    patience : int or "auto", default="auto"
        Epochs without improvement before stopping. "auto": :data:`AUTO_PATIENCE_STEPS`
        (1,000) optimiser steps' worth, and at least 20 epochs (the fitted ``patience_``).
        Patience counted in epochs starves small data: a few hundred training series make
        a handful of steps an epoch, and the validation loss of random contexts is noisy.
        On the real sets of ``benchmarks/real.py`` (300 s, against a patience of 20
        epochs; ``benchmarks/results/real_patience.json``) pbcseq ran 459 epochs, not 72
        (CRPS 0.369 → 0.356 and 0.301 → 0.273, MSE 1.147 → 1.027 and 0.475 → 0.407),
        remifentanil 1,424, not 285 (CRPS 0.017 → 0.012 and 0.067 → 0.059), nafld 143,
        not 79 (CRPS 0.305 → 0.299 and 0.283 → 0.280); flights used its whole budget with
        either (within noise). 1,000 steps rather than 400: on the periodic protocol
        (``benchmarks/periodic.py --defaults --seed 1``, 240 s) 400 steps (27 epochs) ended
        the fit at epoch 70 on an early plateau, at interpolation / extrapolation MSE
        0.0030 / 0.37; with 1,000 (67 epochs) it ran the budget (275 epochs) to 0.0004 /
        0.012. On the four real sets the two rules scored alike: CRPS within 0.006 and
        MSE within 0.015 of the 400-step runs (``benchmarks/results/
        real_patience1000.json`` against ``real_method.json``'s Euler runs, 300 s each,
        not paired in load); the budget, more than either rule, ended those fits.
    n_samples : int, default=32
        Posterior samples used by ``predict`` and the quantile methods.
    n_iwae_samples : int, default=16
        Importance samples of ``score_samples``.
    static_cols : sequence of str or None, default=None
        Columns of the long frame that hold per-series static covariates (age, sex, a
        device type...: one numeric value per series, repeated on its rows; every series
        needs one). They are standardised and condition the posterior of ``z0`` next to
        the encoder's summary; ``predict`` and the scoring methods read them from the frame
        they are given.
    covariate_cols : sequence of str or None, default=None
        Columns of the long frame that hold *known* time-varying covariates: inputs whose
        values are set, not predicted — a drug's infusion rate, a dose, a planned schedule.
        Each series' values (standardised; rows where they are NaN skipped) form a
        piecewise-constant path, each value holding from its row's time until the next
        (the first also before it, the last after it), and the latent vector field takes
        that path's value as an input, ``dz/dt = f(z, u(t))``, so a forecast follows the
        covariates the frame gives for its future. Give those future values as rows of the
        frame passed to ``predict`` (feature columns NaN); every series needs at least one
        value of each covariate. They are not predicted and not part of the output.
    feature_transforms : dict of str to str or None, default=None
        Per-feature value transforms, ``{"conc": "log"}``: ``"log"`` (values > 0),
        ``"log1p"`` (> -1), ``"asinh"`` (any value; centred on the training median and
        scaled by its median absolute deviation, so linear near the typical value and
        logarithmic in the tails) or ``"logit"`` (between 0 and 1). The model works on
        the transformed values, so its Gaussian noise becomes log-normal, heavy-tailed or
        bounded in the original units. Bands, quantiles and draws come back exactly
        (quantiles are taken in transformed units); ``predict`` averages each posterior
        sample's back-transformed decode (the median of its noise, not the mean of a
        log-normal, which wide noise pushes far above typical values); ``score_samples``
        scores the original values (the transform's Jacobian is added). A value outside
        the transform's domain is refused, naming its series and time. Declare what you
        know about a feature. Measured on the real sets of ``benchmarks/real.py`` with
        each set's declared transforms (``latentode.datasets.REAL_SETS``) against none,
        after the same 100 epochs (``benchmarks/results/real_transforms.json``): log of
        remifentanil's concentration — its elimination is exponential, a straight line
        after the log — cut CRPS 0.023 → 0.007 extrapolating and 0.067 → 0.059
        interpolating (MSE 0.0016 → 0.0003 and 0.031 → 0.021), though its extrapolation
        bands covered 0.73 rather than 0.95; log of nafld's FIB-4 lifted interpolation
        coverage 0.75 → 0.81 at equal CRPS; log of six pbcseq labs changed CRPS by
        ≤ 0.001 and raised interpolation MSE 0.44 → 0.47; asinh of the flight delays
        cut extrapolation CRPS 0.397 → 0.375 (MAE 0.55 → 0.50) but raised interpolation
        CRPS 0.241 → 0.256 and MSE 0.34 → 0.41 (departure and arrival delay, linearly
        related, fill each other's hidden values; after the transform that relation is no
        longer linear). No transform is applied by default.
"""
