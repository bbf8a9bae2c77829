"""onionwatch: monitor darknet drug marketplaces through Tor."""

__version__ = "0.1.0"
