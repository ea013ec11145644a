"""cosmos-bench: measure robot-video world models and the adapters fine-tuned on them."""

__version__ = "0.1.0"
