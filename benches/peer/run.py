#!/usr/bin/env python3
"""Side by side: Switchyard's whole process on trivial-node graphs (text output and --json,
with and without the disk cache), and ComfyUI's on the same shapes where a running ComfyUI
is given. Prints a table of median wall times and peak RSS.

  run.py [--switchyard BIN] [--comfy URL] [--repeat N] [--shapes chain:1000,wide:1000,...]

ComfyUI is only timed when --comfy names a running server (0.3.64 was the peer measured);
each of its runs changes the first value, so its cache cannot answer.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_graph  # noqa: E402


def timed(cmd, env=None):
    """Wall seconds and peak RSS (MiB) of one child process."""
    # stderr goes to a file: the text summary of a large graph outgrows a pipe's buffer.
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def switchyard_case(binary, graph, mode, cache_dir):
    cmd = [binary, "run", graph, "--out", tempfile.mkdtemp()]
    if mode.startswith("json"):
        cmd.append("--json")
    if "cache" in mode:
        cmd += ["--cache-dir", cache_dir]
    else:
        cmd.append("--no-disk-cache")
    return cmd


def comfy_run(url, prompt):
    body = json.dumps({"prompt": prompt, "client_id": str(uuid.uuid4())}).encode()
    start = time.perf_counter()
    req = urllib.request.Request(f"{url}/prompt", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        reply = json.load(r)
    if reply.get("node_errors"):
        return None
    pid = reply["prompt_id"]
    while time.perf_counter() - start < 600:
        with urllib.request.urlopen(f"{url}/history/{pid}", timeout=30) as r:
            if pid in json.load(r):
                return time.perf_counter() - start
        time.sleep(0.01)
    return None


def disk_cache_cell(args, work, shape, n):
    """The disk cache's figures on a chain of cacheable nodes (value nodes are not cached)."""
    graph, changed = (os.path.join(work, f"cached-{n}{tag}.json") for tag in ("", "-changed"))
    for path, color in ((graph, 0), (changed, 0xFFFFFF)):
        with open(path, "w") as f:
            json.dump(make_graph.cached_chain(n, color), f)
    nones, firsts, agains, edits = [], [], [], []
    for _ in range(args.repeat):
        cache = tempfile.mkdtemp(dir=work)
        nones.append(timed(switchyard_case(args.switchyard, graph, "json", None))[0])
        firsts.append(timed(switchyard_case(args.switchyard, graph, "json+cache", cache))[0])
        agains.append(timed(switchyard_case(args.switchyard, graph, "json+cache", cache))[0])
        edits.append(timed(switchyard_case(args.switchyard, changed, "json+cache", cache))[0])
    medians = (statistics.median(t) for t in (nones, firsts, agains, edits))
    return " / ".join(f"{m:.3f}" for m in medians) + " s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switchyard", default=os.path.join(ROOT, "target/release/switchyard"))
    ap.add_argument("--comfy", help="URL of a running ComfyUI, such as http://127.0.0.1:8188")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shapes", default="chain:900,chain:1000,wide:1000,chain:10000,wide:10000")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="peer-bench-")
    print(
        "| graph | nodes | Switchyard text | Switchyard --json "
        "| cached chain (image nodes), --json: no disk cache / first into an empty cache / identical re-run "
        "/ first node changed | ComfyUI |",
        flush=True,
    )
    print("|---|---|---|---|---|---|")
    for spec in args.shapes.split(","):
        shape, n = spec.split(":")
        n = int(n)
        graph = os.path.join(work, f"{shape}-{n}.json")
        with open(graph, "w") as f:
            json.dump(make_graph.switchyard(shape, n), f)
        nodes = n if shape == "chain" else 3 * n
        cells = []
        for mode in ("text", "json"):
            runs = [timed(switchyard_case(args.switchyard, graph, mode, None)) for _ in range(args.repeat)]
            cells.append(f"{statistics.median(r[0] for r in runs):.3f} s, {max(r[1] for r in runs):.0f} MiB")
        cells.append(disk_cache_cell(args, work, shape, n) if shape == "chain" else "-")
        comfy = "not given"
        if args.comfy:
            times = []
            for r in range(min(args.repeat, 3)):
                prompt = make_graph.comfy(shape, n)["prompt"]
                first = next(iter(prompt.values()))
                first["inputs"]["value"] = 1_000_000 + r + int(time.time()) % 1000
                t = comfy_run(args.comfy, prompt)
                if t is None:
                    times = None
                    break
                times.append(t)
            comfy = "rejected" if times is None else f"{statistics.median(times):.2f} s"
        print(f"| {shape} {n} | {nodes} | {' | '.join(cells)} | {comfy} |", flush=True)


if __name__ == "__main__":
    main()
