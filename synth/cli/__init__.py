"""The `mira` command line: a thin layer over the library."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from ..errors import MiraError  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Optional  # noqa: E402

from .common import (COMMAND_RUNNERS, ApiBaseOpt, HomeOpt, LMOpt, console, err_console,  # noqa: E402
                     print_summaries, store_for)
from .data import app as data_app  # noqa: E402
from .eval_cmd import app as eval_app  # noqa: E402
from .judge_cmd import app as judge_app  # noqa: E402
from .prompt_cmd import app as prompt_app  # noqa: E402
from .studio_cmd import studio  # noqa: E402
from .synth_cmd import app as synth_app  # noqa: E402
from .train_cmd import app as train_app  # noqa: E402


def bare_ray(args: list[str]) -> list[str]:
    """`--ray` given without an address (last, or followed by another option) means `--ray local`."""
    out = []
    for i, a in enumerate(args):
        out.append(a)
        if a == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("local")
    return out


class _MiraGroup(TyperGroup):
    """User errors (MiraError) print one clear line and exit 1; usage errors keep click's exit 2."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, bare_ray(list(args)))

    def invoke(self, ctx):
        runners: list = []
        token = COMMAND_RUNNERS.set(runners)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/] Finished items are journaled; re-run the same command to resume.")
            raise typer.Exit(130) from None
        except MiraError as e:
            err_console.print(f"[bold red]Error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            COMMAND_RUNNERS.reset(token)
            print_summaries(runners)


app = typer.Typer(name="mira", cls=_MiraGroup, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Mira: recruitment rerankers from synthetic, judged and versioned data.")
app.add_typer(data_app, name="data")
app.add_typer(synth_app, name="synth")
app.add_typer(prompt_app, name="prompt")
app.add_typer(judge_app, name="judge")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.command("studio")(studio)


@app.callback()
def _options(prompts: Annotated[Optional[Path], typer.Option(
        "--prompts", help="your prompt folder, searched before $MIRA_HOME/prompts and the bundled prompts (only the "
                          "files you change are needed, e.g. jd/boundary.md); also $MIRA_PROMPTS")] = None) -> None:
    """Mira: recruitment rerankers from synthetic, judged and versioned data."""
    if prompts is not None:
        os.environ["MIRA_PROMPTS"] = str(prompts)


@app.command()
def demo(home: HomeOpt = None, lm: LMOpt = None, api_base: ApiBaseOpt = None,
         jds: Annotated[int, typer.Option("--jds", help="sample JDs through the five stages")] = 3,
         no_train: Annotated[bool, typer.Option("--no-train", help="skip the R2 training and evaluation")] = False
         ) -> None:
    """Run Mira end to end on the committed samples, offline (no network, no API key)."""
    from .demo import run_demo

    run_demo(store_for(home), console, lm, api_base, jds, not no_train)


def main() -> None:
    app()
