"""data stage of cosmos-bench."""
