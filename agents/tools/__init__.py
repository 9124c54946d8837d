"""Tools for localchain agents (reserved; this subpackage has no public API yet)."""
