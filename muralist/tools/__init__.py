"""Generation tools: registry, execution interface (base.py), providers, ComfyUI workflows."""
