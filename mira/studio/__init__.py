"""Mira Studio: a local web app to read, review and label the datasets of a Mira home (`mira studio`)."""
