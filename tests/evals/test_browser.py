"""The HTML report in a real headless Chromium: the page renders and every plot decodes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localchain.evals import evaluate_rag, write_reports
from localchain.evals.report import BAR_COLOR

# Reads each image's decoded size after load, into an attribute --dump-dom prints. A broken
# image is added as a control, so the check is known to see a failure when there is one.
PROBE = """<img id=control src="data:image/png;base64,AAAA" alt=control>
<script>window.addEventListener('load', () => {
  const sizes = [...document.images].map(i => [i.id, i.complete, i.naturalWidth, i.naturalHeight]);
  document.body.setAttribute('data-images', JSON.stringify(sizes));
});</script>"""


def _install_chromium() -> str | None:
    """Install Debian's chromium as scripts/setup.sh does, when this machine can."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=900, env=env)
        except (subprocess.SubprocessError, OSError):
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or _install_chromium()
    if found is None:
        pytest.skip("chromium is not installed and this machine cannot install it (needs root "
                    "and apt-get): run `apt-get install chromium` or scripts/setup.sh as root")
    return found


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_report_renders_and_every_plot_shows(chromium: str, scripted: Any, tmp_path: Path) -> None:
    judge, _ = scripted(script={"NLIStatementOutput": [
        '{"statements": [{"statement": "s", "reason": "r", "verdict": 1}]}',
        '{"statements": [{"statement": "s", "reason": "r", "verdict": 0}]}']})
    rows = [{"question": f"Question {i}?", "answer": "An answer.", "contexts": ["Context."],
             "relevant_ids": ["c1"], "context_ids": ["c1" if i % 2 else "c2"]} for i in range(4)]
    result = evaluate_rag(None, rows, metrics=["faithfulness", "retrieval"], judge=judge,
                          progress=False)
    html_path = write_reports(result, tmp_path / "report")["html"]
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")

    dom = _run(chromium, tmp_path / "profile1", "--dump-dom", probe.as_uri()).stdout
    assert "<h1>Evaluation report</h1>" in dom and "Worst samples" in dom
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, "the load handler did not run"
    sizes = json.loads(found.group(1).replace("&quot;", '"'))
    plots = [s for s in sizes if s[0] != "control"]
    assert len(plots) == len(result.summary) == 5
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in plots)
    assert next(s for s in sizes if s[0] == "control")[2] == 0

    shot = tmp_path / "shot.png"
    _run(chromium, tmp_path / "profile2", "--window-size=1200,1800",
         f"--screenshot={shot}", html_path.as_uri())
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    bar = tuple(int(BAR_COLOR[i:i + 2], 16) / 255 for i in (1, 3, 5))
    close = (abs(pixels - bar) < 0.03).all(axis=-1)
    assert close.sum() > 2000, "no histogram bars visible in the screenshot"
    assert (pixels < 0.5).any(axis=-1).sum() > 1000, "the page looks blank"
