"""llmaudit: an offline cost audit for LLM API traffic."""

import os

__version__ = "0.1.0"

# polars allocates through jemalloc, tuned here for a large log on few cores. jemalloc reads this when
# polars loads, so it is set here, before any llmaudit module imports polars; a value the user set wins.
# - narenas:1: one arena for every thread. With the default (4 per core) a page freed by one polars thread
#   is not reused by another's, and at 1M requests the peak was 4.26 GB; with one arena 3.73 GB (two
#   arenas: 4.09 GB). No slower on two cores (100k requests: 10.4 s either way).
# - freed pages go back to the system after 100 ms, on jemalloc's own background thread (a stage's freed
#   working set would otherwise stay resident while the next stage allocates; handing them back at once,
#   on the freeing thread, cost 7% of the time).
os.environ.setdefault(
    "_RJEM_MALLOC_CONF", "narenas:1,background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0")
