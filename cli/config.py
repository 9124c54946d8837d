"""`localchain config`: the effective settings and where each one came from."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from localchain.cli.options import JsonOpt, print_json
from localchain.settings import config_files, explain_settings


def config(json_output: JsonOpt = False) -> None:
    """Show the effective settings and the source of each (argument, env, TOML, default)."""
    explained = explain_settings()
    if json_output:
        print_json(
            {
                "settings": explained,
                "config_files": [
                    {"path": str(p), "exists": p.is_file()} for p in config_files()
                ],
            }
        )
        return
    table = Table("setting", "value", "source")
    for name, entry in explained.items():
        table.add_row(name, str(entry["value"]), entry["source"])
    console = Console()
    console.print(table)
    for path in config_files():
        state = "found" if path.is_file() else "not found"
        console.print(f"config file: {path} ({state})")
