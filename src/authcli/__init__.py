"""authcli: keep API sessions alive for scripts."""

__version__ = "0.1.0"
