"""`localchain topics --store DIR`, run in this process (no second model: --no-llm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import THEMES

from localchain.cli import main


def test_topics_json_and_html(theme_store: Path, tmp_path: Path, capsys) -> None:
    report = tmp_path / "topics.html"
    code = main(["topics", "--store", str(theme_store), "--no-llm", "--json",
                 "--min-topic-size", "8", "--html", str(report)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert len(data["topics"]) == len(THEMES) and data["vectors_reused"] is True
    assert data["outliers"] + sum(t["size"] for t in data["topics"]) == data["documents_used"]
    assert all(t["label_source"] == "keywords" for t in data["topics"])
    assert {"embed", "fit", "label"} <= set(data["seconds"])
    assert data["html"] == str(report) and "Plotly.newPlot" in report.read_text()
    # Progress went to stderr as lines (not a terminal): fitting, then the charts.
    assert "Fitting topics" in err and "Drawing charts" in err


def test_topics_text_output_and_merging(theme_store: Path, capsys) -> None:
    code = main(["topics", "--store", str(theme_store), "--no-llm", "--min-topic-size", "8",
                 "--nr-topics", "3"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("3 topics in 120 documents")
    assert lines[1].split() == ["id", "size", "label", "keywords"] and len(lines) == 5


@pytest.mark.parametrize("value", ["1", "many"])
def test_bad_nr_topics_is_a_usage_error(theme_store: Path, value: str, capsys) -> None:
    assert main(["topics", "--store", str(theme_store), "--no-llm", "--nr-topics", value]) == 2
    assert "--nr-topics" in capsys.readouterr().err


def test_a_folder_that_is_no_index(tmp_path: Path, capsys) -> None:
    assert main(["topics", "--store", str(tmp_path / "nothing"), "--no-llm"]) == 1
    assert "localchain index" in capsys.readouterr().err
