"""The batch runner: every LLM call of synth and judge goes through it."""

from .core import Outcome, Runner, RunnerConfig, RunResult, Task

__all__ = ["Outcome", "Runner", "RunnerConfig", "RunResult", "Task"]
