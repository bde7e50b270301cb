"""Trains the bundled Fashion-MNIST models and exports them to ONNX.

  /usr/bin/python3 models/scripts/train_fashion.py mlp|lenet|resnet [--epochs N]

Writes models/<name>/model.onnx, model.meta.json (labels, preprocessing) and
reference.safetensors (fixed inputs and PyTorch's fp32 outputs on them).
Deterministic for a given PyTorch build (fixed seeds, 2 threads).
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


class MLP(nn.Module):
    """784-512-512-10, the MNIST shape of the term-quantization paper."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 512)
        self.fc3 = nn.Linear(512, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNet(nn.Module):
    """LeNet-5 style: two 5x5 convolutions with max pooling, three dense layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.proj is None else self.proj(x)))


class ResNet(nn.Module):
    """A small ResNet: stem, three residual blocks (16, 32, 64 channels), GAP."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


MODELS = {
    "mlp": (MLP, "MLP 784-512-512-10 on Fashion-MNIST", 10),
    "lenet": (LeNet, "LeNet-5 style CNN on Fashion-MNIST", 10),
    "resnet": (ResNet, "small ResNet (residual adds, batch norm) on Fashion-MNIST", 4),
}


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(MODELS))
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()
    make, description, default_epochs = MODELS[args.name]
    epochs = args.epochs or default_epochs
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)

    train_x, train_y = common.fashion_mnist("train")
    test_x, test_y = common.fashion_mnist("t10k")
    xt = torch.from_numpy(common.normalise(train_x)).unsqueeze(1)
    yt = torch.from_numpy(train_y.astype(np.int64))
    xv = torch.from_numpy(common.normalise(test_x)).unsqueeze(1)
    yv = torch.from_numpy(test_y.astype(np.int64))

    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * (len(xt) // 128))
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        t0 = time.time()
        for i in range(0, len(xt) - 127, 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"{args.name} epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, "
              f"test accuracy {evaluate(model, xv, yv):.4f} ({time.time() - t0:.0f} s)",
              flush=True)

    model.eval()
    out = common.model_dir(args.name)
    torch.onnx.export(model, xv[:1], os.path.join(out, "model.onnx"), opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    meta = common.fashion_meta(description)
    meta["pytorch_test_accuracy"] = evaluate(model, xv, yv)
    common.write_meta(args.name, meta)
    # Reference: PyTorch's fp32 outputs on the first 16 test images.
    with torch.no_grad():
        ref = model(xv[:16]).numpy()
    common.write_safetensors(os.path.join(out, "reference.safetensors"),
                             {"input": xv[:16].numpy(), "output": ref})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
