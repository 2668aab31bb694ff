"""Timers, CPU and memory accounting, provenance, timeouts and process-tree cleanup."""
