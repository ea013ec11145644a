"""``python -m cosmos_bench.cli``: the same CLI, e.g. under ``accelerate launch -m cosmos_bench.cli train ...``."""

from . import main

main()
