"""Measure: cells -> bases -> images -> containers (the probe) -> records."""
