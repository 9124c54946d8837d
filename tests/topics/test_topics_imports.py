"""Importing localchain.topics (and its data classes) does not import BERTopic, UMAP or
numba: those load when a model is first fitted."""

from __future__ import annotations

import subprocess
import sys


def test_the_package_imports_without_bertopic() -> None:
    code = (
        "import sys, localchain, localchain.topics\n"
        "from localchain.topics import TopicsResult, TopicSettings, topic_diversity, topic_model\n"
        "print(sorted(m for m in ('bertopic', 'umap', 'hdbscan', 'numba', 'torch') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
