"""HTTP routes that are not MCP: the OAuth callback page (and its loopback listener for stdio servers)."""
