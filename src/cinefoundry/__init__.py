"""cinefoundry: a studio's own video generation model, trained on the titles it holds rights to."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cinefoundry")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
