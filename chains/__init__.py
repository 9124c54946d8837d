"""localchain.chains - reserved; this subpackage has no public API yet."""
