"""Mira's toolkit core: records, the dataset store, importers, the LLM runner and the synth stages.

Importing ``synth`` (or ``synth.store`` / ``synth.records``) loads neither dspy nor litellm, so the trainer can read
datasets without the LLM side.
"""

__version__ = "0.1.0"
