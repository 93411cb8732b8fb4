"""dregsy: keep container images in sync between registries."""

# The one place the version lives (pyproject.toml reads it); a constant, because looking it
# up through importlib.metadata costs tens of milliseconds at every start.
__version__ = "0.6.0.dev0"

__all__ = ["__version__"]
