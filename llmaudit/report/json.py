"""audit.json: schema version 1, deterministic (same input -> same bytes apart from generated_at)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from llmaudit.redaction import redact_text
from llmaudit.result import AuditResult

BREAKDOWN_KEYS = {"by_model": "model", "by_feature": "feature", "by_user": "user", "by_day": "day", "by_team": "team"}


def to_dict(result: AuditResult) -> dict[str, Any]:
    """The result as plain JSON-ready data, breakdown rows named by their dimension."""
    data = dataclasses.asdict(result)
    for list_name, key_name in BREAKDOWN_KEYS.items():
        data[list_name] = [
            {key_name: row["key"], **{k: v for k, v in row.items() if k != "detail"}, **row["detail"]}
            for row in data[list_name]
        ]
    attribution = data.pop("attribution")
    data["attribution"] = attribution["overall"]
    data["attribution_by_feature"] = attribution["by_feature"]
    data["attribution_by_model"] = attribution["by_model"]
    data["attribution_check"] = attribution["check"]
    data["repeated_texts"] = {
        "system_prompts": attribution["top_system_prompts"], "context_blocks": attribution["top_context_blocks"],
    }
    data["tokenizer"] = {"encodings": attribution["encodings"], "calibration": attribution["calibration"]}
    for lever in data["levers"]:
        lever.pop("savings_by_request", None)  # handed to the stacking, not an output
    data["store_path"] = data.pop("store_path")
    pricing = data["pricing"]
    pricing["unknown_models"] = sorted(pricing["unknown_models"], key=lambda m: (-m["requests"], m["model"]))
    return redacted(data)


def redacted(value: Any) -> Any:
    """Every string in ``value`` (dict keys too) with the secrets it holds replaced by [redacted].

    The file carries log text (excerpts, templates, feature and user names, reject reasons): it is
    attached to tickets and CI runs, so it shows no more of a leaked key than the HTML report does.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redacted(key): redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def render_json(result: AuditResult) -> str:
    """The audit as indented JSON text."""
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(result: AuditResult, path: Path) -> None:
    """Write audit.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(result), encoding="utf-8")
