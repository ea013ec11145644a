"""models stage of cosmos-bench."""
