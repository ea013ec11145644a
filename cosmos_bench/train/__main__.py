"""``python -m cosmos_bench.train``: the trainer without the CLI, e.g. ``accelerate launch -m cosmos_bench.train``.

Prints one JSON line per optimiser step (main process only) and a final ``{"record": "result", ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cosmos_bench.train", description=__doc__)
    parser.add_argument("--recipe", required=True, help="recipe YAML (trainer/dora32.yaml)")
    parser.add_argument("--data", required=True, help="GR1 train folder (videos/, metas/)")
    parser.add_argument("--out", required=True, help="output folder (adapter, checkpoints, loss log)")
    parser.add_argument("--cache", default=None, help="cache folder (default: the recipe's, else $COSMOS_BENCH_CACHE/train)")
    parser.add_argument("--device", default=None, help="cpu, or auto (default: CUDA when available)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop this invocation after N optimiser steps")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a recipe field, e.g. --set train.batch_size=1 (YAML value); repeatable")
    args = parser.parse_args(argv)

    import yaml

    from .recipe import load_recipe
    from .trainer import train

    recipe = load_recipe(args.recipe)
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, field = key.partition(".")
        if not field:
            parser.error(f"--set needs SECTION.KEY=VALUE, got {item!r}")
        recipe = recipe.replace(**{section: {field: yaml.safe_load(value)}})

    def on_step(info):
        if _is_main():
            print(json.dumps({"record": "step", "step": info.step, "loss": info.loss, "lr": info.lr,
                              "seconds": round(info.seconds, 4)}), flush=True)

    result = train(recipe, args.data, args.out, resume=args.resume, max_steps=args.max_steps, cache_dir=args.cache,
                   device=args.device, on_step=on_step)
    if _is_main():
        print(json.dumps({"record": "result", "adapter": str(result.adapter) if result.adapter else None,
                          "steps_done": result.steps_done, "finished": result.finished,
                          "losses": result.losses}), flush=True)
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


if __name__ == "__main__":
    sys.exit(main())
