"""results stage of cosmos-bench."""
