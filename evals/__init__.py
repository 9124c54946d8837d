"""localchain.evals - reserved; this subpackage has no public API yet."""
