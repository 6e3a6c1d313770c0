"""The built-in OAuth 2.1 authorization server MCP clients sign in with when no external one is configured.

policy      when it serves, its issuer and the resource its tokens are for
redirects   which redirect URIs a client may register, and exact (loopback: any port) matching
documents   fetching Client ID Metadata Documents without reaching what it must not
clients     registered clients and metadata-document clients, as the SDK's client records
store       the SQL functions of schema renubu_auth (migration 20251210000100), one round trip each
provider    the SDK's OAuthAuthorizationServerProvider: codes, refresh-token rotation, revocation
signin      the sign-in and consent page behind /authorize
routes      the HTTP routes: RFC 8414 metadata, /authorize, /token, /register, /revoke
"""
