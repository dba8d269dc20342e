#!/usr/bin/env python3
"""Builds Switchyard's small shipped ONNX models, their manifests, and reference outputs.

Run from anywhere: `python3 models/make_models.py` (needs `pip install onnx==1.23.* onnxruntime==1.31.1 numpy`).
Writes, next to this script, for each model: NAME.onnx, NAME.toml (the manifest, with the
model's sha256), and NAME.reference.json (Python onnxruntime's output on a fixed input), which
the Rust tests compare against. Outputs are deterministic, so re-running changes nothing.
"""
import hashlib
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
OPSET = 17
IMAGE_IN = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])


def const(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def upscale2x():
    """Bilinear 2x resize, then a mild depthwise sharpen, clipped to 0..1."""
    s = 0.25
    k = np.array([[0, -s, 0], [-s, 1 + 4 * s, -s], [0, -s, 0]], dtype=np.float32)
    nodes = [
        helper.make_node("Resize", ["image", "", "scales"], ["big"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Conv", ["big", "sharpen"], ["sharp"], group=3, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["sharp", "lo", "hi"], ["out"]),
    ]
    inits = [const("scales", [1, 1, 2, 2]), const("sharpen", np.stack([k[None]] * 3)),
             const("lo", 0.0), const("hi", 1.0)]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, "height2", "width2"])
    return helper.make_graph(nodes, "upscale2x", [IMAGE_IN], [out], inits), "out"


def sobel_edges():
    """Luma, then Sobel x and y, then gradient magnitude as a one-channel mask."""
    luma = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32).reshape(1, 3, 1, 1)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32) / 4
    nodes = [
        helper.make_node("Conv", ["image", "luma"], ["grey"]),
        helper.make_node("Conv", ["grey", "sobel"], ["grad"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["grad", "grad"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis"], ["sum"], keepdims=1),
        helper.make_node("Sqrt", ["sum"], ["mag"]),
        helper.make_node("Clip", ["mag", "lo", "hi"], ["mask"]),
    ]
    inits = [const("luma", luma), const("sobel", np.stack([sx[None], sx.T[None]])),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"), const("lo", 0.0), const("hi", 1.0)]
    out = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "height", "width"])
    return helper.make_graph(nodes, "sobel_edges", [IMAGE_IN], [out], inits), "mask"


def grade_teal_orange():
    """A 1x1 convolution colour grade: warm highlights, teal shadows."""
    # Strong enough to see at a glance: reds pushed warm, blues cooled, shadows lifted teal.
    m = np.array([[1.30, 0.10, -0.25], [0.02, 1.02, 0.00], [-0.22, 0.08, 1.10]], dtype=np.float32)
    bias = np.array([-0.02, 0.03, 0.07], dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "matrix", "bias"], ["graded"]),
        helper.make_node("Clip", ["graded", "lo", "hi"], ["out"]),
    ]
    inits = [const("matrix", m.reshape(3, 3, 1, 1)), const("bias", bias), const("lo", 0.0), const("hi", 1.0)]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, "height", "width"])
    return helper.make_graph(nodes, "grade_teal_orange", [IMAGE_IN], [out], inits), "out"


def chroma_key():
    """A green-screen matte: 0 near the key colour, rising to 1 beyond a soft threshold."""
    key = np.array([0.1, 0.8, 0.2], dtype=np.float32).reshape(1, 3, 1, 1)
    t0, t1 = 0.25, 0.45
    nodes = [
        helper.make_node("Sub", ["image", "key"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("ReduceSum", ["d2", "axis"], ["dist2"], keepdims=1),
        helper.make_node("Sqrt", ["dist2"], ["dist"]),
        helper.make_node("Sub", ["dist", "t0"], ["shifted"]),
        helper.make_node("Div", ["shifted", "width_t"], ["ramp"]),
        helper.make_node("Clip", ["ramp", "lo", "hi"], ["matte"]),
    ]
    inits = [const("key", key), numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
             const("t0", t0), const("width_t", t1 - t0), const("lo", 0.0), const("hi", 1.0)]
    out = helper.make_tensor_value_info("matte", TensorProto.FLOAT, [1, 1, "height", "width"])
    return helper.make_graph(nodes, "chroma_key", [IMAGE_IN], [out], inits), "matte"


MODELS = {
    "upscale2x": (upscale2x, {"task": "upscale", "scale": 2, "tile": 256, "overlap": 16,
                              "memory_mb_per_megapixel": 96, "gflops_per_megapixel": 0.14,
                              "description": "Bilinear 2x upscale with a mild sharpen"}),
    "sobel_edges": (sobel_edges, {"task": "mask", "scale": 1, "tile": 512, "overlap": 8,
                                  "memory_mb_per_megapixel": 48, "gflops_per_megapixel": 0.05,
                                  "description": "Sobel edge strength as a mask"}),
    "grade_teal_orange": (grade_teal_orange, {"task": "image-to-image", "scale": 1, "tile": 1024, "overlap": 0,
                                              "memory_mb_per_megapixel": 32, "gflops_per_megapixel": 0.02,
                                              "description": "A teal-and-orange colour grade (1x1 convolution)"}),
    "chroma_key": (chroma_key, {"task": "mask", "scale": 1, "tile": 1024, "overlap": 0,
                                "memory_mb_per_megapixel": 40, "gflops_per_megapixel": 0.03,
                                "description": "A soft green-screen matte"}),
}


def reference_input(height=12, width=16):
    """A fixed gradient image in 0..1, the same one the Rust tests build."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / (width - 1), y / (height - 1), (x + y) / (width + height - 2)])
    return img[None].astype(np.float32)


def manifest(name, meta, output, sha256):
    return "\n".join([
        f'name = "{name}"',
        f'description = "{meta["description"]}"',
        'licence = "Apache-2.0 (generated by models/make_models.py)"',
        f'task = "{meta["task"]}"',
        f'scale = {meta["scale"]}',
        f'sha256 = "{sha256}"',
        "",
        "[tensors]",
        'input = "image"',
        f'output = "{output}"',
        'layout = "NCHW"',
        'color_order = "RGB"',
        'color_space = "srgb"',
        'range = "0..1"',
        "",
        "[size]",
        "dynamic = true",
        "multiple_of = 1",
        "",
        "[tiling]",
        f'tile = {meta["tile"]}',
        f'overlap = {meta["overlap"]}',
        "",
        "[cost]",
        f'memory_mb_per_megapixel = {meta["memory_mb_per_megapixel"]}',
        f'gflops_per_megapixel = {meta["gflops_per_megapixel"]}',
        "",
    ])


def main():
    import onnxruntime as ort

    x = reference_input()
    for name, (build, meta) in MODELS.items():
        graph, output = build()
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="switchyard-make-models")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        data = model.SerializeToString(deterministic=True)
        (HERE / f"{name}.onnx").write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        (HERE / f"{name}.toml").write_text(manifest(name, meta, output, sha))
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        (y,) = session.run([output], {"image": x})
        reference = {
            "model": f"{name}.onnx",
            "onnxruntime": ort.__version__,
            "input": {"name": "image", "shape": list(x.shape), "data": x.ravel().tolist()},
            "output": {"name": output, "shape": list(y.shape), "data": [float(v) for v in y.ravel()]},
        }
        (HERE / f"{name}.reference.json").write_text(json.dumps(reference) + "\n")
        print(f"{name}: {len(data)} bytes, output {list(y.shape)}, sha256 {sha[:12]}")


if __name__ == "__main__":
    main()
