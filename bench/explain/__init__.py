"""Records -> reconciliation: each counter's total against the analytic reference, as data."""
