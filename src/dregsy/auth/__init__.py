"""Registry authentication: challenges, scopes, tokens and the auth flow."""
