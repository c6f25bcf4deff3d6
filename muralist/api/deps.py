"""Route dependencies as Annotated aliases."""

from typing import Annotated

from fastapi import Depends, Request

from muralist.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
