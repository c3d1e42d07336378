"""The `mira` command line: a thin layer over the library."""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if not sys.stderr.isatty():  # a log (nohup, CI): no tqdm bars from libraries (e.g. transformers' GGUF loading)
    os.environ.setdefault("TQDM_DISABLE", "1")
# libraries' notices about their own future versions are not the user's business
warnings.filterwarnings("ignore", category=FutureWarning)

import errno  # noqa: E402

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from synth.errors import MiraError  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Optional  # noqa: E402

from synth.runner.core import Interrupted  # noqa: E402
from synth.store import home_hint  # noqa: E402
from .common import (COMMAND_RUNNERS, ApiBaseOpt, HomeOpt, LMOpt, console, err_console,  # noqa: E402
                     print_summaries, store_for)
from .audit_cmd import app as audit_app  # noqa: E402
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


def plain_flags(cmd) -> None:
    """Help shows a flag (`--dry-run`, `--help`) bare: a flag takes no value, so it gets no `<bool>` type (typer
    labels every option with its type); applied to every command of the tree once, when the CLI is built."""
    help_opt = cmd.get_help_option(cmd.context_class(cmd))  # made (and cached by the command) now, so it is marked
    for p in [*cmd.params, *([help_opt] if help_opt is not None else [])]:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    for sub in getattr(cmd, "commands", {}).values():
        plain_flags(sub)


# A write refused by the file system: the home (or --out) cannot take Mira's files.
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class _MiraGroup(TyperGroup):
    """User errors (MiraError) print one clear line and exit 1; usage errors keep click's exit 2; Ctrl-C exits 130
    (also when a runner turned it into its `Interrupted` error)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        plain_flags(self)

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
        except Interrupted as e:
            err_console.print(f"[yellow]{e}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except OSError as e:
            if e.errno not in _NOT_WRITABLE or not e.filename:
                raise
            err_console.print(f"[bold red]Error:[/] cannot write {e.filename}: {e.strerror}. {home_hint()}",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
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
app.add_typer(audit_app, name="audit")


def _version(value: bool) -> None:
    if value:
        from synth import __version__
        from synth.store import code_version

        console.print(f"mira {__version__} (code version {code_version()}, as dataset manifests record it)",
                      highlight=False)
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="print the version and the code version manifests record, "
                                                        "and exit")] = False,
             prompts: Annotated[Optional[Path], typer.Option(
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
