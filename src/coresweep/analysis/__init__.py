"""Statistics, scaling models and verdict rules."""
