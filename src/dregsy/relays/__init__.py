"""Relays: the part that moves one image. Everything around it is shared."""
