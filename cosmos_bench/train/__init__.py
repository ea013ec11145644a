"""train stage of cosmos-bench."""
