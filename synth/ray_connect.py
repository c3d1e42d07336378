"""Joining or starting a Ray cluster for `--ray ADDRESS` (shared by the LLM runner and the corpus encoder; imports
nothing but Ray, so the trainer can use it without DSPy)."""

from __future__ import annotations

from .errors import InputError


def connect(address: str | None, workers: int, missing: str):
    """The `ray` module, connected: `local` (or None) starts a cluster on this machine, `auto` joins the running
    one, `ray://HOST:PORT` a remote one. `missing` says how to install Ray."""
    try:
        import ray
    except ImportError:
        raise InputError(missing) from None
    if workers < 1:
        raise InputError(f"--workers {workers}: give at least 1.")
    if not ray.is_initialized():
        ray.init(address=None if address in (None, "", "local") else address, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True, configure_logging=False)
    return ray


def quiet_data_context():
    """Ray Data's own progress bars and start-up banner off: Mira's progress and tables are the driver's."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return ctx
