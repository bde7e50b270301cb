#!/usr/bin/python3
"""Writes a stand-in for "your own model": an MLP classifier that takes a
flat vector of 784 pixels (the usual MNIST / Fashion-MNIST MLP, input
[N, 784]), exported as ONNX opset 13 -- here made from the bundled MLP's
trained weights by dropping its Flatten, so it needs no PyTorch and
classifies the bundled images well.

  /usr/bin/python3 examples/own_model/make_example_onnx.py my_mlp.onnx

With PyTorch, your own would come from
  torch.onnx.export(model, torch.zeros(1, 784), "my_mlp.onnx", opset_version=13,
                    input_names=["pixels"], dynamic_axes={"pixels": {0: "batch"}})
"""
import os
import sys

import onnx
from onnx import helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "models", "mlp", "model.onnx")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_example_onnx.py OUT.onnx")
    m = onnx.load(SOURCE)
    g = m.graph
    flatten = g.node[0]
    assert flatten.op_type == "Flatten", "the bundled MLP starts with a Flatten"
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 784])
    for node in g.node[1:]:
        node.input[:] = ["pixels" if i == flatten.output[0] else i for i in node.input]
    g.node.remove(flatten)
    while len(g.input):
        g.input.pop()
    g.input.append(pixels)
    onnx.checker.check_model(m)
    onnx.save(m, sys.argv[1])


if __name__ == "__main__":
    main()
