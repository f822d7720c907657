"""Which reader a run forces, if any: `--format NAME` or the generic reader with `--map`."""

from __future__ import annotations

from llmaudit.config import AuditConfig
from llmaudit.errors import ConfigError
from llmaudit.ingest.interface import Reader
from llmaudit.ingest.registry import readers


def forced_reader(config: AuditConfig) -> Reader | None:
    """The reader the user chose, or None to detect each file's format."""
    if config.column_map:
        from llmaudit.ingest.generic import GenericReader

        return GenericReader(config.column_map)
    if config.format is None:
        return None
    available = readers()
    if config.format not in available:
        raise ConfigError(f"unknown format {config.format!r}; known: {', '.join(sorted(available))}")
    return available[config.format]
