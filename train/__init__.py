"""Mira's trainer and evaluation. It reads dataset versions through the store and never imports dspy or litellm."""
