"""Running ``python -m localchain`` as a user runs it, for the CLI tests: a subprocess,
bytes in and out (argv and stdin may hold bytes that are not UTF-8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def localchain(
    *args: str | bytes,
    cwd: Path,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    python: tuple[str, ...] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m localchain ARGS`` with bytes in and out (argv may hold bytes that are not
    UTF-8), without the machine's LOCALCHAIN_* settings; ``python``: interpreter options."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCALCHAIN_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, *python, "-m", "localchain", *args], cwd=cwd, input=stdin,
        capture_output=True, env=environ, timeout=timeout, check=False,
    )  # fmt: skip
