"""coresweep: threads or processes — measure what parallel Python buys on this machine."""

__version__ = "0.1.0"
RESULT_SCHEMA_VERSION = 1
