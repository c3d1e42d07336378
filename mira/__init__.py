"""Mira's application layer: orchestration over synth, judge and train (protocol, audit), the studio and the CLI."""
