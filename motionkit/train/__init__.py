"""Training: the configuration of a run's optimisation (the loop itself lives here too)."""
