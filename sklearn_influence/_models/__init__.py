"""Estimator decoding: each supported model as a loss, a penalty and a design (the bottom layer)."""
