"""localchain.retrievers - reserved; this subpackage has no public API yet."""
