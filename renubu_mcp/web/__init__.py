"""HTTP routes that are not MCP: the OAuth callback page, connect pages and webhook deliveries (and the loopback
listener that serves them for stdio servers)."""
