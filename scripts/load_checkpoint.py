#!/usr/bin/env python3
"""Load an xgrad checkpoint into a PyTorch model, without the C++ code, and score it on the
Fashion-MNIST test set.

    python3 scripts/load_checkpoint.py out/checkpoint.safetensors [--data DIR]

It prints the line `fashion_mnist --evaluate` prints, for comparison. Needs NumPy and PyTorch
(Debian: python3-torch).

The checkpoint describes itself: its metadata holds the model's describe() text ("model") and the
input standardisation ("input.mean", "input.std"). Parameters are "model.<layer>.<name>", buffers
"buffer.<layer>.<name>", float32 little-endian. xgrad's Linear weight is (in, out) (y = x W + b);
PyTorch's is (out, in), so it is transposed here.
"""
import argparse
import gzip
import json
import re
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    """The tensors (name -> float32 array) and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_size])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + header_size:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {entry['dtype']}; this loader reads F32 only")
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
    return tensors, metadata


def build_layer(text):
    """A torch module for one line of xgrad's describe(), e.g. "Linear(784, 512, bias=false)"."""
    match = re.fullmatch(r"(\w+)\((.*)\)", text)
    if not match:
        sys.exit(f"cannot read the layer '{text}'")
    kind, args = match.group(1), [a.strip() for a in match.group(2).split(",") if a.strip()]
    positional = [a for a in args if "=" not in a]
    named = dict(a.split("=") for a in args if "=" in a)
    if kind == "Linear":
        return torch.nn.Linear(int(positional[0]), int(positional[1]), bias=named.get("bias", "true") == "true")
    if kind == "BatchNorm":
        return torch.nn.BatchNorm1d(int(positional[0]), eps=float(named.get("eps", 1e-5)))
    if kind == "Dropout":
        return torch.nn.Dropout(float(positional[0]))
    simple = {"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh, "Sigmoid": torch.nn.Sigmoid}
    if kind in simple:
        return simple[kind]()
    if kind == "LeakyReLU":
        return torch.nn.LeakyReLU(float(positional[0]))
    if kind == "ELU":
        return torch.nn.ELU(float(positional[0]))
    sys.exit(f"this loader does not know the layer '{text}'")


def build_model(description, tensors):
    """A torch.nn.Sequential for a "Sequential(\\n  (0) Linear(...)\\n ...)" description, loaded."""
    lines = description.strip().splitlines()
    if not lines or lines[0] != "Sequential(" or lines[-1] != ")":
        sys.exit("the checkpoint's model is not a Sequential description")
    layers = []
    for line in lines[1:-1]:
        match = re.fullmatch(r"\s*\((\d+)\) (.*)", line)
        if not match or int(match.group(1)) != len(layers):
            sys.exit(f"cannot read the model line '{line}'")
        layers.append(build_layer(match.group(2)))
    model = torch.nn.Sequential(*layers)
    # xgrad's parameter and buffer names -> torch's.
    renames = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
               "running_mean": "running_mean", "running_var": "running_var"}
    state = {}
    for name, value in tensors.items():
        kind, _, rest = name.partition(".")
        if kind not in ("model", "buffer"):
            continue  # the optimizer's state
        index, _, field = rest.partition(".")
        layer = layers[int(index)]
        if isinstance(layer, torch.nn.Linear) and field == "weight":
            value = value.T  # (in, out) -> (out, in)
        state[f"{index}.{renames[field]}"] = torch.from_numpy(np.ascontiguousarray(value))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"the checkpoint does not fit its description: missing {missing}, unexpected {unexpected}")
    return model.eval()


def read_idx(path):
    with gzip.open(path, "rb") as f:
        blob = f.read()
    dims = blob[3]
    shape = struct.unpack(f">{dims}I", blob[4:4 + 4 * dims])
    return np.frombuffer(blob[4 + 4 * dims:], dtype=np.uint8).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    tensors, metadata = read_safetensors(args.checkpoint)
    for key in ("model", "input.mean", "input.std"):
        if key not in metadata:
            sys.exit(f"{args.checkpoint}: no '{key}' in the metadata (a checkpoint from before they were saved)")
    model = build_model(metadata["model"], tensors)
    print(metadata["model"])
    # The C++ loader's arithmetic, in float32: pixel / 255, then (x - mean) * (1 / std).
    images = read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32)
    labels = read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    images *= np.float32(1.0 / 255.0)
    mean, std = np.float32(float(metadata["input.mean"])), np.float32(float(metadata["input.std"]))
    images = (images - mean) * (np.float32(1.0) / std)
    with torch.no_grad():
        logits = model(torch.from_numpy(images))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)).item()
    accuracy = float((logits.argmax(dim=1).numpy() == labels).mean())
    print(f"checkpoint after epoch {metadata.get('epoch', '?')}: test accuracy {100 * accuracy:.2f}%, "
          f"test loss {loss:.4f} ({len(labels)} examples)")


if __name__ == "__main__":
    main()
