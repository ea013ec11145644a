"""judge stage of cosmos-bench."""
