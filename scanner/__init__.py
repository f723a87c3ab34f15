"""gapscan: the scanning engine. Knows no protocol; checks live in the ``checks`` package."""

from importlib import metadata

try:
    __version__ = metadata.version("hipaa-gapscan")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
