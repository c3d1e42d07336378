"""`mira audit`: counterfactual name-swap audits of the judge and the reranker (docs/audit.md)."""
