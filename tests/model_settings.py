"""Settings shared by tests that load the embedded model (importable from any test folder).

Test modules import this instead of ``conftest``: with several conftest.py files in the
tree, the module named ``conftest`` is whichever pytest imported last.
"""

# Tests run on the real embedded GGUF; these settings make them deterministic.
TEST_CTX = 2048


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
