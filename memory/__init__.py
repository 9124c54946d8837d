"""localchain.memory - reserved; this subpackage has no public API yet."""
