#!/usr/bin/python3
"""xgrad's two Fashion-MNIST recipes in PyTorch (Debian's python3-torch 1.13, CPU, oneDNN 2.6.3
inside), for timing and accuracy against examples/fashion_mnist.cpp:

  --model mlp: Linear 784->512->256 (no bias) -> BatchNorm -> ReLU per hidden layer -> Linear 256->10,
               Adam 1e-3, batch 128 (the main job, scripts/run.sh)
  --model cnn: issue 13's recipe (fashion_mnist --model cnn), Adam 1e-3, batch 128, constant rate

  torch_recipes.py --model cnn --threads 2 --steps 50   median ms per training step on a fixed batch of 128
  torch_recipes.py --model mlp --threads 2 --epochs 15  seconds per epoch on the 55,000 training examples,
                                                        then test accuracy

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


def recipe(name):
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Linear(512, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(256, 10))


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def fashion_mnist(folder, seed):
    """55,000 training examples (5,000 held out by a seeded shuffle, as xgrad does) and the 10,000 test
    examples, standardised with one mean and deviation of the training examples, like xgrad."""
    def read(prefix):
        images = read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), 16).reshape(-1, 1, 28, 28)
        labels = read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), 8).astype(np.int64)
        return images.astype(np.float32) / 255.0, labels
    x, y = read("train")
    keep = np.random.default_rng(seed).permutation(len(y))[5000:]
    x, y = x[keep], y[keep]
    test_x, test_y = read("t10k")
    mean, std = x.mean(), x.std()
    return (torch.from_numpy((x - mean) / std), torch.from_numpy(y),
            torch.from_numpy((test_x - mean) / std), torch.from_numpy(test_y))


def test_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
    model.train()
    return correct / len(y)


def step(model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--seed", type=int, default=0, help="of the initial weights, the shuffles and the split")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=0, help="time this many steps on one batch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = recipe(args.model)
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
    x, y, test_x, test_y = fashion_mnist(args.data, args.seed)
    if args.model == "mlp":
        x, test_x = x.reshape(len(x), 784), test_x.reshape(len(test_x), 784)
    total = 0.0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(y))
        t0 = time.perf_counter()
        for i in range(0, len(y), 128):
            batch = order[i:i + 128]
            if len(batch) > 1:  # batch norm cannot normalise one example (xgrad drops it too)
                step(model, optimizer, x[batch], y[batch])
        seconds = time.perf_counter() - t0
        total += seconds
        print(f"pytorch {torch.__version__} {args.model} threads {args.threads}: epoch {epoch} {seconds:.1f} s",
              flush=True)
    print(f"pytorch {args.model} seed {args.seed} threads {args.threads}: {args.epochs} epochs in {total:.1f} s, "
          f"test accuracy {100 * test_accuracy(model, test_x, test_y):.2f}%")


if __name__ == "__main__":
    main()
