"""dregsy: keep container images in sync between registries."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dregsy")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]
