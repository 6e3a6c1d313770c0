"""The OAuth client side of integrations: the authorization flow, the encrypted token vault, refresh, revocation.

Server code that needs a user's integration token calls get_access_token(app_state, principal, slug_or_install_id).
"""

from .tokens import ReauthorizationNeeded, get_access_token, revoke_install

__all__ = ["ReauthorizationNeeded", "get_access_token", "revoke_install"]
