"""AuditConfig: everything a run needs, from flags and an optional llmaudit.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from llmaudit.analyses.interface import LeverConfig
from llmaudit.errors import ConfigError

DEFAULT_FEATURE_KEYS = (
    "feature", "feature_name", "use_case", "usecase", "app", "app_name", "application", "component",
    "workflow", "pipeline", "job", "route", "trace_name", "generation_name", "prompt_name", "tags.feature",
    "Helicone-Property-Feature", "helicone-property-feature", "requester_metadata.feature",
    "spend_logs_metadata.feature",
)
DEFAULT_USER_KEYS = ("user", "user_id", "end_user", "userId", "customer", "customer_id", "account_id")
DEFAULT_TEAM_KEYS = ("team", "team_id", "team_alias", "user_api_key_team_alias", "user_api_key_team_id", "project", "project_id")


@dataclass(frozen=True)
class AuditConfig:
    """One audit run's inputs and options; the CLI builds it, `run_audit` reads it."""

    inputs: tuple[str, ...] = ()
    """Paths, globs, directories or '-' for stdin."""
    db_path: Path | None = None
    """DuckDB store; None = an in-memory store."""
    prices_file: Path | None = None
    as_of: date | None = None
    """Reprice everything at the prices in force on this date."""
    strict: bool = False
    format: str | None = None
    """Force a reader instead of detecting."""
    column_map: dict[str, str] = field(default_factory=dict)
    """Generic reader mapping: canonical field -> source column."""
    feature_keys: tuple[str, ...] = DEFAULT_FEATURE_KEYS
    user_keys: tuple[str, ...] = DEFAULT_USER_KEYS
    team_keys: tuple[str, ...] = DEFAULT_TEAM_KEYS
    context_patterns: tuple[str, ...] = ()
    """Extra regular expressions marking retrieved context inside user messages."""
    levers: LeverConfig = field(default_factory=LeverConfig)
    top_n: int = 25
    """Rows kept in the by-user list (the rest are summed into one row)."""

    def with_overrides(self, **changes: Any) -> AuditConfig:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def load_toml_settings(path: Path | None) -> dict[str, Any]:
    """The `[tool.llmaudit]` table of pyproject.toml or the top level of llmaudit.toml, if present."""
    candidates = [path] if path else [Path("llmaudit.toml"), Path("pyproject.toml")]
    for candidate in candidates:
        if candidate is None or not candidate.is_file():
            if path is not None:
                raise ConfigError(f"{path}: config file not found")
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{candidate}: invalid TOML: {exc}") from exc
        if candidate.name == "pyproject.toml":
            return dict(data.get("tool", {}).get("llmaudit", {}))
        return dict(data)
    return {}


def keys_from_settings(settings: dict[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list-of-strings setting (feature_keys...) placed before the defaults."""
    value = settings.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name} must be a list of strings")
    return tuple(value) + tuple(k for k in default if k not in value)
