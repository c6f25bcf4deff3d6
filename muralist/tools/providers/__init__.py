"""HTTP clients of the generation providers (OpenAI images, Replicate, Volcengine, Jaaz cloud)."""
