"""The topics report in a real headless Chromium: offline, every chart drawn, labels shown."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from browsers import require
from fakes import ScriptedChat

from localchain.topics import topic_model

LABELS = ["Bread and cakes", "Money markets", "Football matches", "Garden soil", "Space flight"]


@pytest.fixture(scope="module")
def chromium() -> str:
    return require("chromium")[0]


def test_report_renders_every_chart_offline_with_the_labels(
    chromium: str, theme_index, tmp_path: Path
) -> None:
    model = topic_model(
        theme_index, ScriptedChat(replies=LABELS), min_topic_size=8, n_neighbors=10,
        progress=False,
    )  # fmt: skip
    assert [t.label for t in model.result.topics] == LABELS
    page = model.write_html(tmp_path / "report" / "topics.html")
    text = page.read_text(encoding="utf-8")
    # Offline: plotly's script inlined once, nothing fetched from elsewhere.
    assert not re.search(r"<script[^>]+src=", text)
    assert text.count("Plotly.newPlot") == 4 and 'class="missing"' not in text

    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
               "--dump-dom", page.as_uri()]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout
    # Plotly marks every plot it drew and gives it its SVG layers.
    assert len(re.findall(r'class="[^"]*js-plotly-plot', dom)) == 4
    assert dom.count('class="main-svg"') >= 8
    table = dom[dom.index('<table id="topics"') : dom.index("</table>")]
    for label in LABELS:
        assert f'<td class="label">{label}</td>' in table
    # The labels are in the charts too (the bar chart's subplot titles, the hierarchy).
    charts = dom[dom.index("</table>") :]
    assert all(label in charts for label in LABELS)
