"""Groups of training rows: leave-group-out, block-Newton steps, group re-weighting and their validation."""
