"""Plots, the claims table, the HTML report and the summary."""
