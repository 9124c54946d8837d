"""``python -m localchain`` runs the CLI."""

from localchain.cli import _entry

_entry()
