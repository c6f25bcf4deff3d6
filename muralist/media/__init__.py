"""Media files: storage, image processing, canvas placement."""
