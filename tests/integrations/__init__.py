"""The integrations toolset and the OAuth flow, against fake providers (respx and a loopback server)."""
