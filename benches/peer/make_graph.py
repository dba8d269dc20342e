#!/usr/bin/env python3
"""Trivial-node graphs for the side-by-side benchmark with ComfyUI.

  make_graph.py SHAPE N FORMAT > graph.json

SHAPE is `chain` (N integer nodes, each fed by the one before) or `wide` (N independent
branches of three: a source, a pass, a sink). FORMAT is `switchyard` (a workflow file of
`value.int` nodes, each driven by the one before through its `value` input) or `comfy` (a
ComfyUI API-format prompt of `PrimitiveInt` nodes ending in `PreviewAny` output nodes, since
ComfyUI runs only what leads to an output). FORMAT `cached` is the chain for the disk
cache's figures: value nodes are never cached (making one costs less than a cache entry), so
it is a 1x1 `image.fill` followed by N-1 `image.invert` nodes, each a small cached entry.
"""
import json
import sys


def switchyard(shape, n):
    nodes = {}
    if shape == "chain":
        for i in range(n):
            entry = {"type": "value.int"}
            if i:
                entry["inputs"] = {"value": f"n{i - 1}.value"}
            else:
                entry["params"] = {"value": 1}
            nodes[f"n{i}"] = entry
    else:
        for b in range(n):
            nodes[f"s{b}"] = {"type": "value.int", "params": {"value": b}}
            nodes[f"p{b}"] = {"type": "value.int", "inputs": {"value": f"s{b}.value"}}
            nodes[f"o{b}"] = {"type": "value.int", "inputs": {"value": f"p{b}.value"}}
    return {"format": "switchyard.workflow", "version": 1, "name": f"{shape} {n}", "nodes": nodes}


def cached_chain(n, color=0):
    nodes = {"n0": {"type": "image.fill", "params": {"width": 1, "height": 1, "color": color}}}
    for i in range(1, n):
        nodes[f"n{i}"] = {"type": "image.invert", "inputs": {"image": f"n{i - 1}.image"}}
    return {"format": "switchyard.workflow", "version": 1, "name": f"cached chain {n}", "nodes": nodes}


def comfy(shape, n):
    prompt = {}
    if shape == "chain":
        for i in range(n):
            value = ["%d" % (i - 1), 0] if i else 1
            prompt[str(i)] = {"class_type": "PrimitiveInt", "inputs": {"value": value}}
        prompt["out"] = {"class_type": "PreviewAny", "inputs": {"source": [str(n - 1), 0]}}
    else:
        for b in range(n):
            prompt[f"s{b}"] = {"class_type": "PrimitiveInt", "inputs": {"value": b}}
            prompt[f"p{b}"] = {"class_type": "PrimitiveInt", "inputs": {"value": [f"s{b}", 0]}}
            prompt[f"o{b}"] = {"class_type": "PreviewAny", "inputs": {"source": [f"p{b}", 0]}}
    return {"prompt": prompt}


def main():
    formats = ("switchyard", "comfy", "cached")
    if len(sys.argv) != 4 or sys.argv[1] not in ("chain", "wide") or sys.argv[3] not in formats:
        sys.exit(__doc__)
    shape, n, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if fmt == "cached" and shape != "chain":
        sys.exit("the cached format is a chain")
    graph = {"switchyard": lambda: switchyard(shape, n), "comfy": lambda: comfy(shape, n), "cached": lambda: cached_chain(n)}[fmt]()
    json.dump(graph, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
