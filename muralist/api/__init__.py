"""The HTTP API under /api, shaped as the Jaaz web UI expects."""
