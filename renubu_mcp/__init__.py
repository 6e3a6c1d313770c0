"""renubu-mcp: an MCP server giving AI assistants safe, per-user access to Renubu."""

__version__ = "0.1.0"
