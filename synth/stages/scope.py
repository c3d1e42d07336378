"""Stage 4's scope reader lives in the base layer (synth/requirements/scope.py); re-exported for the stages."""

from ..requirements.scope import SCOPES, ScopeCues, load_cues  # noqa: F401
