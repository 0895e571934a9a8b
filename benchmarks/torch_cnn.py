#!/usr/bin/python3
"""The CNN recipe of issue 13 in PyTorch (Debian's python3-torch 1.13, CPU, oneDNN 2.6.3 inside),
for timing against xgrad: examples/fashion_mnist.cpp --model cnn and bench_conv's step row.

  torch_cnn.py --threads 2 --steps 50            median ms per training step on a fixed batch of 128
  torch_cnn.py --threads 2 --epochs 1            seconds per epoch on Fashion-MNIST (55,000 examples)

Install PyTorch only to run this (apt-get install python3-torch); xgrad does not need it.
"""
import argparse
import gzip
import os
import statistics
import time

import numpy as np
import torch
from torch import nn


def recipe():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(256, 10))


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def fashion_mnist(folder):
    images = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"), 16).reshape(-1, 1, 28, 28)
    labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"), 8).astype(np.int64)
    x = images.astype(np.float32) / 255.0
    x = (x - x[5000:].mean()) / x[5000:].std()  # one mean and deviation, like xgrad
    return torch.from_numpy(x[5000:]), torch.from_numpy(labels[5000:])


def step(model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=0, help="time this many steps on one batch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = recipe()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    if args.steps:
        x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
        for _ in range(3):
            step(model, optimizer, x, y)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step(model, optimizer, x, y)
            times.append(1e3 * (time.perf_counter() - t0))
        print(f"pytorch {torch.__version__} threads {args.threads}: median {statistics.median(times):.1f} ms/step "
              f"over {args.steps} steps (batch 128)")
        return
    x, y = fashion_mnist(args.data)
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(y))
        t0 = time.perf_counter()
        for i in range(0, len(y), 128):
            batch = order[i:i + 128]
            step(model, optimizer, x[batch], y[batch])
        print(f"pytorch {torch.__version__} threads {args.threads}: epoch {epoch} {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
