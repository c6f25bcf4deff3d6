"""The `muralist` command: serve, and worker (scaled mode)."""

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from muralist.settings import ServerSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="muralist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 57988)")
    serve.add_argument("--data-dir", type=Path, help="database, config and files folder")
    serve.add_argument("--ui-dir", type=Path, help="a built web UI to serve (its dist folder)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.add_argument(
        "--no-tasks",
        action="store_true",
        help="scaled mode: leave generation tasks to `muralist worker` processes",
    )
    worker = commands.add_parser(
        "worker", help="scaled mode: run generation tasks from Redis (no HTTP)"
    )
    worker.add_argument("--data-dir", type=Path, help="the data folder the servers share")
    worker.add_argument(
        "--concurrency",
        type=_positive,
        help="at most this many tasks of each provider in this process (default: its limit)",
    )
    worker.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _settings(args: argparse.Namespace) -> ServerSettings:
    overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "ui_dir": args.ui_dir,
            "log_level": args.log_level,
            "run_tasks": False if getattr(args, "no_tasks", False) else None,
        }.items()
        if value is not None
    }
    return ServerSettings(**overrides)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from muralist.app import create_app

    try:
        settings = _settings(args)
        app = create_app(settings)
    except (ValidationError, ValueError) as exc:
        print(f"muralist: {exc}", file=sys.stderr)
        return 2
    if settings.ui_dir is not None and not (settings.ui_dir / "index.html").is_file():
        print(f"muralist: --ui-dir {settings.ui_dir} has no index.html", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)  # a line per job otherwise
    logging.getLogger("muralist").info(
        "Muralist listening on http://%s:%d", settings.host, settings.port
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=args.access_log,
        lifespan="on",
    )
    return 0


def worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from muralist.tasks.worker import task_worker

    overrides = {
        key: value
        for key, value in {"data_dir": args.data_dir, "log_level": args.log_level}.items()
        if value is not None
    }
    try:
        settings = ServerSettings(**overrides)
    except (ValidationError, ValueError) as exc:
        print(f"muralist: {exc}", file=sys.stderr)
        return 2
    if not settings.redis_url:
        print("muralist: the worker needs MURALIST_REDIS_URL (scaled mode)", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with task_worker(settings, concurrency=args.concurrency) as running:
            print(f"muralist worker {running.queue.owner} ready", flush=True)
            await stop.wait()

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        sys.exit(serve(args))
    if args.command == "worker":
        sys.exit(worker(args))
