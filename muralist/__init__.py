"""Muralist: a local-first server for an AI design agent."""

__version__ = "0.1.0"
