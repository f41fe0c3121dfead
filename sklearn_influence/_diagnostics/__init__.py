"""Regression diagnostics in the R and statsmodels catalogue: covariances, flags and their plot."""
