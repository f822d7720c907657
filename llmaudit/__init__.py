"""llmaudit: an offline cost audit for LLM API traffic."""

from llmaudit import allocator

__version__ = "0.1.0"

# polars allocates through jemalloc, which reads its settings when polars loads: they are set here, before
# any llmaudit module imports polars (see `allocator`).
allocator.set_default()
