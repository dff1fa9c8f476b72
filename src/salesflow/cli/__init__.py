"""Thin command line: each command calls one function of the pipeline and prints its result."""
