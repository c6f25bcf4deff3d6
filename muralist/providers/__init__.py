"""Configured providers (config.toml), outgoing HTTP, and model discovery."""
