"""The batch runner: every LLM call of synth and judge goes through it."""

from .core import FinalReject, Outcome, Runner, RunnerConfig, RunResult, Task

__all__ = ["FinalReject", "Outcome", "Runner", "RunnerConfig", "RunResult", "Task"]
