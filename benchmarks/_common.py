"""Helpers shared by the benchmark scripts: real-data location, peak RSS, the BENCH line."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def data_dir() -> Path:
    d = Path(os.environ.get("MIRA_DATA") or ROOT.parent / "shared" / "data")
    if not d.exists():
        sys.exit(f"Real data not found at {d}: set MIRA_DATA.")
    return d


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB.

    VmHWM from /proc (reset at exec) rather than ru_maxrss, which Linux carries over from the parent across fork+exec.
    """
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_line(name: str, **values) -> str:
    parts = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    return f"BENCH {name} {parts}"


def classify_stage():
    """The benchmarks' structured call: a DSPy module with one two-field Signature (sync and async forward)."""
    import dspy

    class Classify(dspy.Signature):
        """Classify the job posting's family and seniority."""

        jd: str = dspy.InputField()
        family: str = dspy.OutputField()
        seniority: str = dspy.OutputField()

    class Stage(dspy.Module):
        direct = True  # as Mira's stages: forward only delegates (the runner may make the call itself)

        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict(Classify)

        def forward(self, jd):
            return self.predict(jd=jd)

        async def aforward(self, jd):
            return await self.predict.acall(jd=jd)

    return Classify, Stage
