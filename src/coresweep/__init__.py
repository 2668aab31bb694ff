"""coresweep: threads or processes — measure what parallel Python buys on this machine."""

__version__ = "0.1.0"
RESULT_SCHEMA_VERSION = 1
#: the format of results/tables/*.parquet: every row carries it (column schema_version); the
#: report refuses a table of another version (rebuild it from its raw files)
TABLE_SCHEMA_VERSION = 1
