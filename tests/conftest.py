import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from synth.paths import data_dir  # noqa: E402
from synth.store import DatasetStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An isolated Mira home; MIRA_HOME points at it so CLI calls without --home use it too."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("MIRA_HOME", str(h))
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))
    return h


@pytest.fixture
def store(home):
    return DatasetStore(home)


@pytest.fixture(scope="session")
def real_data():
    d = data_dir()
    if not d.exists():
        pytest.skip(f"real data not found at {d} (set MIRA_DATA)")
    return d


@pytest.fixture(scope="session")
def _server():
    from tests.llm_server import LLMServer

    srv = LLMServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def llm_server(_server):
    """A real OpenAI-compatible HTTP server on 127.0.0.1, reset for each test (rules, counts, faults)."""
    _server.reset()
    st = _server.state
    st.latency, st.fault_rate, st.hang_seconds, st.concurrency = 0.0, 0.0, 30.0, 64
    yield _server
    _server.reset()


@pytest.fixture
def lm_config(llm_server):
    from synth.lm.config import LMConfig

    return LMConfig(model="openai/gpt-4o-mini", api_base=llm_server.url, timeout=5.0)
