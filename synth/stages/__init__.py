"""The five JD stages (extract, paraphrase, card, boundary, constraint) as DSPy modules, one per file."""
