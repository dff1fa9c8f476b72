"""Helpers every floor may use: durable file writes, child processes, the Prometheus text format.

They sit at the bottom of the tree, beside ``errors`` and ``redact``, and import nothing above it.
"""
