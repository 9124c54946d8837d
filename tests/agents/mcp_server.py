"""A tiny MCP server on stdio for tests/agents/test_tool_calling_agents.py: two integer tools.

Run as ``python tests/agents/mcp_server.py``; an MCP client (langchain-mcp-adapters'
``MultiServerMCPClient`` with transport ``stdio``) starts it and talks JSON-RPC over its
stdin and stdout.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("arithmetic")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


if __name__ == "__main__":
    server.run(transport="stdio")
