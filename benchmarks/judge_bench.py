"""Judge throughput against concurrency, on a local endpoint with a fixed latency.

The judge's own cost (base64 encoding, JSON, the openai client, our retry/cache bookkeeping) must not
be what limits a run: with a server that always takes ``--latency`` seconds, ``c`` concurrent calls
should finish ``c / latency`` requests per second. This prints, for each concurrency, the measured
throughput, the speed-up over concurrency 1 and the fraction of the ideal speed-up (target >= 0.9).

    python benchmarks/judge_bench.py                      # latency 0.2 s, c = 1 2 4 8 16, 64 KiB videos
    python benchmarks/judge_bench.py --video-kib 2048     # realistic mp4 size (93 frames 432x768 ~ 1-3 MiB)
    python benchmarks/judge_bench.py --json bench.json

Runs offline: the endpoint is :class:`cosmos_bench.judge.fake_server.FakeJudgeServer` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from cosmos_bench.judge import JudgeConfig, judge_videos_sync
from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply


class _ServerProcess:
    """The fake endpoint in its own process (like a real server: it does not take the client's GIL)."""

    def __init__(self, latency: float):
        self.latency = latency

    def __enter__(self):
        cmd = [sys.executable, "-m", "cosmos_bench.judge.fake_server", "--latency", str(self.latency),
               "--lifetime", "900", "--watch-stdin"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        if not ready or not ready[0].startswith("READY "):
            self.__exit__()
            raise SystemExit("fake judge endpoint did not start")
        self.base_url = ready[0].split()[1]
        self.max_in_flight = None  # not visible across processes
        return self

    def reset(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def run(latency: float, levels: list[int], per_slot: int, video_kib: int, repeats: int, in_process: bool) -> list[dict]:
    rows: list[dict] = []
    endpoint = (
        FakeJudgeServer(lambda req: Reply("<think>steady</think>\nScore: 4", delay_s=latency), lifetime_s=900,
                        keep_requests=False)
        if in_process
        else _ServerProcess(latency)
    )
    with tempfile.TemporaryDirectory() as tmp, endpoint as server:
        base = None
        for c in levels:
            n = max(8, per_slot * c)
            videos = []
            for i in range(n):  # distinct files: nothing is shared or cached between requests
                p = Path(tmp) / f"c{c}_{i}.mp4"
                p.write_bytes(os.urandom(video_kib * 1024))
                videos.append(p)
            cfg = JudgeConfig(
                base_url=server.base_url,
                api_key="bench",
                concurrency=c,
                timeout_s=30,
                retries=0,
                reasks=0,
            )
            best = None
            for _ in range(repeats):
                server.reset()
                t0 = time.perf_counter()
                res = judge_videos_sync(videos, "video_physics", cfg)  # no cache: every request hits the server
                wall = time.perf_counter() - t0
                bad = [r for r in res if r.status != "ok"]
                if bad:
                    raise SystemExit(f"benchmark request failed: {bad[0].reason}")
                if best is None or wall < best[0]:
                    best = (wall, server.max_in_flight)
            wall, max_in_flight = best
            throughput = n / wall
            base = base or throughput
            ideal_wall = -(-n // c) * latency
            rows.append(
                {
                    "concurrency": c,
                    "requests": n,
                    "wall_s": round(wall, 3),
                    "ideal_wall_s": round(ideal_wall, 3),
                    "throughput_rps": round(throughput, 2),
                    "ideal_rps": round(c / latency, 2),
                    "speedup": round(throughput / base, 2),
                    "speedup_vs_ideal": round(throughput / base / c, 3),
                    "efficiency": round(ideal_wall / wall, 3),
                    "max_in_flight": max_in_flight,
                }
            )
            print(
                f"c={c:>3}  n={n:>3}  wall {wall:6.3f}s (ideal {ideal_wall:5.2f}s)  "
                f"{throughput:6.2f} req/s  speed-up {throughput / base:5.2f}x ({throughput / base / c:5.3f} of ideal)  "
                f"efficiency {ideal_wall / wall:5.3f}" + (f"  max in flight {max_in_flight}" if max_in_flight else ""),
                file=sys.stderr,
            )
    return rows


def markdown(rows: list[dict], latency: float, video_kib: int, in_process: bool) -> str:
    where = "in-process" if in_process else "separate-process"
    head = (
        f"Judge throughput vs concurrency: {where} local endpoint, fixed latency {latency:g} s, "
        f"{video_kib} KiB video per request, python {platform.python_version()}, {os.cpu_count()} CPU(s)\n\n"
        "| concurrency | requests | wall (s) | latency-bound wall (s) | req/s | speed-up vs c=1 | speed-up / ideal | "
        "wall efficiency |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['concurrency']} | {r['requests']} | {r['wall_s']:.3f} | {r['ideal_wall_s']:.2f} | "
        f"{r['throughput_rps']:.2f} | {r['speedup']:.2f}x | {r['speedup_vs_ideal']:.3f} | {r['efficiency']:.3f} |\n"
        for r in rows
    )
    foot = (
        "\nspeed-up / ideal = (req/s at c) / (req/s at c=1) / c. wall efficiency = latency-bound wall / measured "
        "wall, i.e. against a client that costs nothing: it also counts the fixed start-up (client, first "
        "connections) and the client CPU per call.\n"
    )
    return head + body + foot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per request, seconds")
    ap.add_argument("--concurrency", default="1,2,4,8,16", help="comma-separated levels")
    ap.add_argument("--per-slot", type=int, default=8,
                    help="requests per concurrency slot: n = per_slot * c (>= 8), so every level has the same ideal wall")
    ap.add_argument("--video-kib", type=int, default=64, help="size of each (random-bytes) video file")
    ap.add_argument("--repeats", type=int, default=2, help="best of N runs per level")
    ap.add_argument("--target", type=float, default=0.9, help="exit 1 if any speed-up / ideal is below this")
    ap.add_argument("--in-process", action="store_true",
                    help="run the endpoint in this process (shares the GIL; shows max requests in flight)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    rows = run(args.latency, levels, args.per_slot, args.video_kib, args.repeats, args.in_process)
    print(markdown(rows, args.latency, args.video_kib, args.in_process))
    if args.json:
        args.json.write_text(json.dumps({"latency_s": args.latency, "video_kib": args.video_kib,
                                         "in_process": args.in_process, "rows": rows}, indent=2))
    worst = min(r["speedup_vs_ideal"] for r in rows)
    print(f"worst speed-up / ideal {worst:.3f} (target >= {args.target}); "
          f"worst wall efficiency {min(r['efficiency'] for r in rows):.3f}")
    return 0 if worst >= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
