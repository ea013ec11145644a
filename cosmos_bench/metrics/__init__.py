"""metrics stage of cosmos-bench."""
