"""llmaudit: an offline cost audit for LLM API traffic."""

import os

__version__ = "0.1.0"

# polars allocates through jemalloc, which keeps freed pages for 10 s by default: on a large log, one
# stage's freed working set would stay resident while the next stage allocates its own. jemalloc reads
# this when polars loads, so it is set here, before any llmaudit module imports polars; a value the
# user set wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:500,muzzy_decay_ms:0")
