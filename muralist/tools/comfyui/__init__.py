"""ComfyUI workflows as tools: the HTTP + WebSocket client, prompt runs and workflow typing."""
