"""Registry authentication: challenges, scopes, tokens and the httpx auth flow."""
