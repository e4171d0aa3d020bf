"""Matplotlib figures for forecasts, dynamics and densities (imported on demand)."""
