"""Every script's --help says what it does in whole sentences (primary_kill.py's stopped
mid-sentence: its description was the first line of a docstring that went on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(path.name for path in (ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_the_script_in_whole_sentences(script: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    paragraphs = [p for p in done.stdout.split("\n\n")[1:] if not p.lstrip().startswith(
        ("options:", "positional arguments:"))]
    assert paragraphs, f"{script} --help says nothing about what it does"
    summary = paragraphs[0].rstrip()  # what the script does, before any example
    assert summary[-1] in ".?!)`", f"{script} --help stops mid-sentence: ...{summary[-60:]!r}"
