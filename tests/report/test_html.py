"""The HTML page: self-contained, escaped, rendered by a real headless Chromium, shipped in the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmaudit.cli import app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed")
    return found


def hostile_log(shared_data: Path, tmp_path: Path) -> Path:
    """Real batch lines with markup and a secret planted where log text reaches the page."""
    lines = (shared_data / "openai_batch" / "batch-output-expansion.jsonl").read_text().splitlines()[:4]
    record = json.loads(lines[0])
    record["response"]["body"]["model"] = "<script>alert(1)</script>"
    lines[0] = json.dumps(record)
    lines.append('{"custom_id": "x", "response": {"status_code": 200, "body": {"usage": 5}}, "error": null, '
                 '"note": "sk-abcdefghijklmnopqrstuvwx"}')
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def render(tmp_path: Path, *inputs: Path) -> tuple[Path, dict]:
    html = tmp_path / "report.html"
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["analyze", *map(str, inputs), "--html", str(html), "--json", str(out), "--db", ":memory:", "-q"])
    assert result.exit_code == 0, result.output
    return html, json.loads(out.read_text())


def test_page_is_self_contained_and_escaped(shared_data: Path, tmp_path: Path) -> None:
    html, data = render(tmp_path, hostile_log(shared_data, tmp_path))
    text = html.read_text()
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for external in ("http://", "https://", "src=", "@import", "<link"):
        assert external not in text
    assert f"{data['summary']['requests']:,}" in text


def test_chromium_renders_the_figures(shared_data: Path, tmp_path: Path) -> None:
    browser = chromium()
    html, data = render(tmp_path, shared_data / "openai_batch" / "batch-output-expansion.jsonl")
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "LLM spend audit" in dom.stdout
    assert "$1.09" in dom.stdout  # the batch pair's cost, rendered
    assert "o3-mini-2025-01-31" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1100,1400",
         html.as_uri()], capture_output=True, timeout=120, check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
    assert data["summary"]["requests"] == 658


def test_template_ships_in_the_wheel(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("llmaudit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "llmaudit/templates/report.html.j2" in names
    assert "llmaudit/cli.py" in names
