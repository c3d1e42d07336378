"""Resume after kill -9 of a real subprocess: same dataset version, no lost or duplicate record, no repeated call."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.llm_server import render_fields

ROOT = Path(__file__).resolve().parent.parent
N, CONC = 80, 4

SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from synth.lm.config import LMConfig
from synth.records import stable_id
from synth.runner import Runner, RunnerConfig, Task
from synth.store import DatasetStore
from tests.toy_module import TitleModule

url, home = sys.argv[1], sys.argv[2]
r = Runner(LMConfig(model="openai/gpt-4o-mini", api_base=url, timeout=5), home,
           RunnerConfig(concurrency={CONC}, progress=False))
tasks = [Task(f"job{{i}}", {{"jd": f"job number {{i}}"}}) for i in range({N})]
res = r.run(TitleModule(), tasks, label="resume-test")
recs = []
for i, o in enumerate(res.outcomes):
    text = f"{{o.key}}: {{o.output['title']}} ({{o.output['years']}} years)"
    recs.append({{"id": stable_id("jd", text), "kind": "jd", "text": text, "source": {{"file": "t", "line": i + 1}}}})
v = DatasetStore(home).write("resumed", "jd", recs)
print("VERSION", v.version, len(res.outcomes), flush=True)
"""


def _answer(messages):
    i = int(messages[-1]["content"].split("job number ")[1].split()[0])
    return render_fields({"title": f"Role {i}", "years": i % 7})


def _run(script, url, home):
    out = subprocess.run([sys.executable, str(script), url, str(home)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split("VERSION")[1].split()


def test_resume_after_sigkill(llm_server, tmp_path):
    llm_server.state.latency = 0.05
    llm_server.add("job number", fn=_answer)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    ref_version, ref_n = _run(script, llm_server.url, tmp_path / "reference")
    assert int(ref_n) == N and llm_server.calls == N
    llm_server.reset()
    llm_server.add("job number", fn=_answer)

    home = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), llm_server.url, str(home)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 60
    journal = None
    while time.time() < deadline:
        found = list(home.glob(".mira/runs/*/journal.jsonl"))
        if found and sum(1 for _ in open(found[0])) >= 20:
            journal = found[0]
            break
        time.sleep(0.01)
    assert journal is not None, "the run did not start"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines_at_kill = sum(1 for line in open(journal) if '"key"' in line)  # finished items (not spend lines)
    assert lines_at_kill < N
    calls_first = llm_server.calls

    version, n = _run(script, llm_server.url, home)
    assert (version, int(n)) == (ref_version, N)
    calls_second = llm_server.calls - calls_first
    # journaled items are not called again; only answers in flight at the kill can be asked twice
    assert calls_second <= N - lines_at_kill
    assert llm_server.calls <= N + CONC
