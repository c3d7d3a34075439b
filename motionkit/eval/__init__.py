"""Evaluation: metrics as plain numpy functions, reusable on result files without torch."""
