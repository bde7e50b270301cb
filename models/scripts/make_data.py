"""Writes the small data files bundled in models/data/ (run once; committed).

  /usr/bin/python3 models/scripts/make_data.py

- fashion-calibration.safetensors: 512 Fashion-MNIST *training* images (U8,
  [512, 1, 28, 28]) for activation calibration.
- fashion-test.safetensors: the first 1000 test images and labels, so tests
  measure accuracy without the Debian dataset.
- wikitext-calibration.safetensors: 8 x 256 character ids of valid.txt.
- wikitext-test.txt: the first 20000 characters of WikiText-2 test.txt
  (CC BY-SA 3.0, Merity et al. 2016).
"""
import json
import os

import numpy as np

import common

out = os.path.join(common.REPO, "models", "data")
os.makedirs(out, exist_ok=True)

train_x, _ = common.fashion_mnist("train")
test_x, test_y = common.fashion_mnist("t10k")
rng = np.random.default_rng(0)
pick = np.sort(rng.choice(len(train_x), 512, replace=False))
common.write_safetensors(os.path.join(out, "fashion-calibration.safetensors"),
                         {"images": train_x[pick][:, None, :, :]})
common.write_safetensors(os.path.join(out, "fashion-test.safetensors"),
                         {"images": test_x[:1000][:, None, :, :], "labels": test_y[:1000]})

with open(os.path.join(common.WIKITEXT_DIR, "valid.txt"), encoding="utf-8") as f:
    valid = f.read()
with open(os.path.join(common.WIKITEXT_DIR, "test.txt"), encoding="utf-8") as f:
    test = f.read()
meta_path = os.path.join(common.REPO, "models", "char_lstm", "model.meta.json")
if os.path.exists(meta_path):
    vocab = json.load(open(meta_path))["vocabulary"]
    index = {ch: i for i, ch in enumerate(vocab) if i > 0}
    ids = np.array([index.get(ch, 0) for ch in valid[100000:100000 + 8 * 256]], np.int32)
    common.write_safetensors(os.path.join(out, "wikitext-calibration.safetensors"),
                             {"tokens": ids.reshape(8, 256)})
with open(os.path.join(out, "wikitext-test.txt"), "w", encoding="utf-8") as f:
    f.write(test[:20000])
print("wrote", out)
