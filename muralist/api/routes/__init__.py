"""Every API router, in the order they are mounted. Add a new router here."""

from fastapi import APIRouter

from muralist.api.routes import canvases, chat, comfyui, config, files, materials, root, settings
from muralist.api.routes import tasks as task_routes

ROUTERS: list[APIRouter] = [
    root.router,
    config.router,
    settings.router,
    comfyui.router,
    canvases.router,
    chat.router,
    files.router,
    materials.router,
    task_routes.router,
]
