"""The package passes the checks a reviewer runs first: ruff (lint and format) and mypy."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    lint = run(str(BIN / "ruff"), "check", "--quiet", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    layout = run(str(BIN / "ruff"), "format", "--check", "--quiet", ".")
    assert layout.returncode == 0, "not formatted:\n" + layout.stdout + layout.stderr


@pytest.mark.slow
def test_mypy_is_clean_on_the_package() -> None:
    # About 30 s without its cache (.mypy_cache), a second or two with it.
    typed = run(sys.executable, "-m", "mypy", "muralist")
    assert typed.returncode == 0, typed.stdout + typed.stderr
