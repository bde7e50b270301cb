"""Trains the bundled character-level LSTM language model and exports it.

  /usr/bin/python3 models/scripts/train_char_lstm.py [--minutes M]

Embedding (64) -> 2-layer LSTM (192 units) -> dense to the vocabulary, trained
on WikiText-2 valid.txt (CC BY-SA) and evaluated on test.txt in bits per
character. The vocabulary is every character of valid.txt; index 0 stands for
any other character. Writes models/char_lstm/model.onnx, model.meta.json and
reference.safetensors.
"""
import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common

EMBED, HIDDEN, LAYERS = 64, 192, 2


class CharLSTM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, LAYERS)  # sequence-major: [T, N, ...]
        self.head = nn.Linear(HIDDEN, vocab)

    def forward(self, ids, h0, c0):
        y, (h, c) = self.lstm(self.embed(ids), (h0, c0))
        return self.head(y), h, c


def load_text(name):
    with open(os.path.join(common.WIKITEXT_DIR, name), encoding="utf-8") as f:
        return f.read()


def encode(text, index):
    return np.array([index.get(ch, 0) for ch in text], dtype=np.int64)


def bits_per_char(model, ids, batch=16, chunk=256):
    """Streams `ids` through the model in `batch` parallel streams."""
    model.eval()
    n = len(ids) // batch * batch
    streams = torch.from_numpy(ids[:n].reshape(batch, -1).T.copy())  # [T, batch]
    h = torch.zeros(LAYERS, batch, HIDDEN)
    c = torch.zeros(LAYERS, batch, HIDDEN)
    total, count = 0.0, 0
    with torch.no_grad():
        for t in range(0, streams.shape[0] - 1, chunk):
            x = streams[t:t + chunk]
            y = streams[t + 1:t + 1 + chunk]
            x = x[:len(y)]
            logits, h, c = model(x, h, c)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                     reduction="sum").item()
            count += y.numel()
    return total / count / math.log(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)

    train_text, test_text = load_text("valid.txt"), load_text("test.txt")
    vocab = ["<unk>"] + sorted(set(train_text))
    index = {ch: i for i, ch in enumerate(vocab) if i > 0}
    train_ids, test_ids = encode(train_text, index), encode(test_text, index)

    model = CharLSTM(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)
    batch, seq = 128, 96
    n = len(train_ids) // batch * batch
    streams = torch.from_numpy(train_ids[:n].reshape(batch, -1).T.copy())  # [T, batch]
    deadline = time.time() + args.minutes * 60
    step, epoch = 0, 0
    while time.time() < deadline:
        epoch += 1
        h = torch.zeros(LAYERS, batch, HIDDEN)
        c = torch.zeros(LAYERS, batch, HIDDEN)
        model.train()
        for t in range(0, streams.shape[0] - seq - 1, seq):
            x, y = streams[t:t + seq], streams[t + 1:t + 1 + seq]
            logits, h, c = model(x, h.detach(), c.detach())
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if time.time() > deadline:
                break
        for g in opt.param_groups:
            g["lr"] *= 0.8
        print(f"epoch {epoch}: step {step}, train loss {loss.item() / math.log(2):.3f} bpc",
              flush=True)

    test_bpc = bits_per_char(model, test_ids)
    print(f"test: {test_bpc:.4f} bits per character, perplexity {2 ** test_bpc:.3f}")

    model.eval()
    out = common.model_dir("char_lstm")
    ids = torch.zeros(8, 1, dtype=torch.int64)
    h0 = torch.zeros(LAYERS, 1, HIDDEN)
    torch.onnx.export(model, (ids, h0, h0.clone()), os.path.join(out, "model.onnx"),
                      opset_version=13, input_names=["tokens", "h0", "c0"],
                      output_names=["logits", "hn", "cn"],
                      dynamic_axes={"tokens": {0: "time", 1: "batch"},
                                    "h0": {1: "batch"}, "c0": {1: "batch"},
                                    "logits": {0: "time", 1: "batch"},
                                    "hn": {1: "batch"}, "cn": {1: "batch"}})
    common.write_meta("char_lstm", {
        "description": "character-level LSTM language model on WikiText-2 (CC BY-SA)",
        "inputs": [{"name": "tokens", "dtype": "int32", "layout": "T"}],
        "vocabulary": vocab,
        "calibration": {"file": "../data/wikitext-calibration.safetensors", "tensor": "tokens"},
        "pytorch_test_bits_per_char": test_bpc,
    })
    # Reference: logits of the first 64 test characters, one stream, from a
    # zero state.
    ref_ids = torch.from_numpy(test_ids[:64]).reshape(64, 1)
    with torch.no_grad():
        logits, _, _ = model(ref_ids, h0, h0.clone())
    common.write_safetensors(os.path.join(out, "reference.safetensors"),
                             {"input": ref_ids.T.numpy().astype(np.int32),
                              "output": logits.transpose(0, 1).numpy()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
