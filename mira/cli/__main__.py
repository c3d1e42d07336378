"""`python -m mira.cli ...` is `mira ...` (used by `mira train r1|r2 --nproc N` to start one process per rank)."""

from . import main

main()
