"""User prices for models genai-prices does not know, or a negotiated rate: ``--prices FILE`` (TOML or JSON)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmaudit.errors import ConfigError


@dataclass(frozen=True)
class PriceOverride:
    """A user price for a model (negotiated rate, self-hosted model)."""

    model: str
    provider: str
    input_mtok: float
    output_mtok: float
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None
    cache_write_1h_mtok: float | None = None


def load_price_overrides(path: Path) -> dict[str, PriceOverride]:
    """Read a TOML or JSON price file: ``[models."name"] input_mtok = .., output_mtok = ..``."""
    try:
        raw_text = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw_text) if path.suffix.lower() == ".toml" else json.loads(raw_text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read price file: {exc}") from exc
    models = data.get("models", data) if isinstance(data, dict) else None
    if not isinstance(models, dict) or not models:
        raise ConfigError(f"{path}: expected a 'models' table mapping model names to prices")
    overrides: dict[str, PriceOverride] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: models.{name} must be a table of prices")
        try:
            override = PriceOverride(
                model=str(name),
                provider=str(entry.get("provider", "custom")),
                input_mtok=float(entry["input_mtok"]),
                output_mtok=float(entry["output_mtok"]),
                cache_read_mtok=_opt_float(entry.get("cache_read_mtok")),
                cache_write_mtok=_opt_float(entry.get("cache_write_mtok")),
                cache_write_1h_mtok=_opt_float(entry.get("cache_write_1h_mtok")),
            )
        except KeyError as exc:
            raise ConfigError(f"{path}: models.{name} lacks {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: models.{name} has a non-numeric price: {exc}") from None
        if min(override.input_mtok, override.output_mtok) < 0:
            raise ConfigError(f"{path}: models.{name} has a negative price")
        overrides[str(name).lower()] = override
    return overrides


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
