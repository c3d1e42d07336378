"""The README's Python example runs as written: import a pool, verify a requirement, judge a pair through a real
OpenAI-compatible server (the tests' scripted one, named the way a user names theirs: MIRA_LM / MIRA_API_BASE), train
R2 for an epoch and evaluate it beside zero-shot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripted import answer

ROOT = Path(__file__).resolve().parent.parent


def readme_python() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


@pytest.mark.slow
def test_readme_python_example_runs(llm_server, tmp_path):
    llm_server.add("", fn=answer)
    code = readme_python().replace('"my-home', f'"{tmp_path}/my-home')
    env = {**os.environ, "MIRA_LM": "openai/gpt-4o-mini", "MIRA_API_BASE": llm_server.url,
           "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    assert "1.0 years" in lines[0]  # the verifier's reason: the dated role adds up to one year, not five
    assert llm_server.state.requests, "the judge went to the server named by MIRA_API_BASE"
    scores = [ln.split() for ln in lines[-2:]]
    assert [s[0] for s in scores] == ["zero-shot", f"{tmp_path}/my-home/models/r2"]
    assert all(0.0 <= float(s[1]) <= 1.0 for s in scores)
    assert (tmp_path / "my-home" / "models" / "r2" / "mira_train.json").is_file()
