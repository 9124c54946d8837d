"""Finding the headless browser of the browser tests (importable from any test folder).

scripts/setup.sh installs Debian's chromium and chromium-driver when it runs as root. On a
machine where it could not (no root, no apt), the browser tests are skipped with the
command that installs them; under CI, where setup must have installed them, a missing
browser is a failure instead.
"""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL = "apt-get install chromium chromium-driver (scripts/setup.sh does it as root)"


def require(*programs: str) -> list[str]:
    """The paths of ``programs`` (e.g. ``chromium``, ``chromedriver``), or skip / fail."""
    found = {name: shutil.which(name) for name in programs}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        reason = f"{', '.join(missing)} not installed: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return [found[name] for name in programs]  # type: ignore[misc]
