"""Metrics and statistics: pure functions from answers and numbers to figures."""
