"""Tools the creator agent calls: image and video generators, ComfyUI workflows, write_plan."""
