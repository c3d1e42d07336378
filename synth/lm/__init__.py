"""LM configuration and the transports behind Mira's DSPy engine."""
