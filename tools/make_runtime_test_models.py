#!/usr/bin/python3
"""Writes the small ONNX models that drivegate's runtime tests use (src/runtime/testdata/).

Run with Debian's python (python3-onnx, numpy):  /usr/bin/python3 tools/make_runtime_test_models.py
The outputs are committed; rerunning gives the same bytes.

Models:
  fixed_centernet.onnx  input "images" [N,3,32,64]; outputs heatmap [N,2,8,16] (sigmoid inside), wh, offset:
                        a fixed pattern independent of the pixels, so the decoder's result is known exactly.
  toy_centernet.onnx    input "images" [N,3,64,128]; heatmap[c] = sigmoid(8 * avgpool4x4(image[c]) - 4) for the
                        three colour channels (3 classes), wh = (12, 8) input pixels, offset = (0.5, 0.5): a 4x4
                        square of channel c aligned to the 4-pixel grid yields one detection of class c centred
                        on it. Depends on the pixels, so batching and resizing can be checked.
  boxes.onnx            input "images" [N,3,32,32]; outputs boxes [N,3,4] (x1,y1,x2,y2 input pixels),
                        scores [N,3], classes [N,3] (int64): fixed, for the "boxes" decoder.
  busy.onnx             input "x" [N,n,n] (dynamic); 8 x (MatMul(x, x) then Tanh): a model whose run time the
                        caller picks through n, for the event-loop tests of the worker pool.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'runtime', 'testdata')
OPSET = [helper.make_opsetid('', 17)]


def save(graph, name):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name='drivegate-tests')
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    with open(path, 'wb') as f:
        f.write(model.SerializeToString())
    print('wrote', os.path.relpath(path), os.path.getsize(path), 'bytes')


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def zero_per_image(nodes, inp):
    """Nodes computing z [N,1,1,1] = 0 * mean(images): a zero that carries the batch dimension."""
    nodes.append(helper.make_node('ReduceMean', [inp], ['mean'], axes=[1, 2, 3], keepdims=1))
    nodes.append(helper.make_node('Mul', ['mean', 'zero'], ['z']))


def fixed_centernet():
    c, h, w = 2, 8, 16
    logits = np.full((1, c, h, w), -6.0, dtype=np.float32)
    # class 0: a peak at (y=2, x=3) of logit 2 (score 0.8808) with a weaker neighbour that is not a peak.
    logits[0, 0, 2, 3] = 2.0
    logits[0, 0, 2, 4] = 1.0
    # class 1: two separate peaks, logit 0 (score 0.5) at (5, 10) and logit -1 (0.2689) at (6, 1).
    logits[0, 1, 5, 10] = 0.0
    logits[0, 1, 6, 1] = -1.0
    wh = np.zeros((1, 2, h, w), dtype=np.float32)
    wh[0, 0] = 8.0  # width, input pixels
    wh[0, 1] = 6.0  # height
    wh[0, 0, 5, 10] = 12.0
    off = np.zeros((1, 2, h, w), dtype=np.float32)
    off[0, 0] = 0.25
    off[0, 1] = 0.5
    nodes = []
    zero_per_image(nodes, 'images')
    nodes += [
        helper.make_node('Add', ['z', 'logits'], ['hl']),
        helper.make_node('Sigmoid', ['hl'], ['heatmap']),
        helper.make_node('Add', ['z', 'wh_c'], ['wh']),
        helper.make_node('Add', ['z', 'off_c'], ['offset']),
    ]
    graph = helper.make_graph(
        nodes,
        'fixed_centernet',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, ['N', 3, 32, 64])],
        [
            helper.make_tensor_value_info('heatmap', TensorProto.FLOAT, ['N', c, h, w]),
            helper.make_tensor_value_info('wh', TensorProto.FLOAT, ['N', 2, h, w]),
            helper.make_tensor_value_info('offset', TensorProto.FLOAT, ['N', 2, h, w]),
        ],
        [const('zero', 0.0), const('logits', logits), const('wh_c', wh), const('off_c', off)],
    )
    save(graph, 'fixed_centernet.onnx')


def toy_centernet():
    h, w = 16, 32
    wh = np.zeros((1, 2, h, w), dtype=np.float32)
    wh[0, 0] = 12.0
    wh[0, 1] = 8.0
    off = np.full((1, 2, h, w), 0.5, dtype=np.float32)
    nodes = []
    zero_per_image(nodes, 'images')
    nodes += [
        helper.make_node('AveragePool', ['images'], ['pooled'], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node('Mul', ['pooled', 'gain'], ['g']),
        helper.make_node('Add', ['g', 'bias'], ['hl']),
        helper.make_node('Sigmoid', ['hl'], ['heatmap']),
        helper.make_node('Add', ['z', 'wh_c'], ['wh']),
        helper.make_node('Add', ['z', 'off_c'], ['offset']),
    ]
    graph = helper.make_graph(
        nodes,
        'toy_centernet',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, ['N', 3, 64, 128])],
        [
            helper.make_tensor_value_info('heatmap', TensorProto.FLOAT, ['N', 3, h, w]),
            helper.make_tensor_value_info('wh', TensorProto.FLOAT, ['N', 2, h, w]),
            helper.make_tensor_value_info('offset', TensorProto.FLOAT, ['N', 2, h, w]),
        ],
        [const('zero', 0.0), const('gain', 8.0), const('bias', -4.0), const('wh_c', wh), const('off_c', off)],
    )
    save(graph, 'toy_centernet.onnx')


def boxes():
    b = np.array([[[2, 2, 12, 10], [3, 3, 13, 11], [16, 16, 30, 28]]], dtype=np.float32)  # two overlap
    s = np.array([[0.9, 0.8, 0.4]], dtype=np.float32)
    nodes = []
    zero_per_image(nodes, 'images')
    nodes += [
        helper.make_node('Add', ['z', 'b_c'], ['boxes_4d']),
        helper.make_node('Squeeze', ['boxes_4d', 'ax1'], ['boxes']),
        helper.make_node('Squeeze', ['z', 'ax23'], ['z2']),
        helper.make_node('Add', ['z2', 's_c'], ['scores']),
        helper.make_node('Cast', ['scores'], ['s_int'], to=TensorProto.INT64),
        helper.make_node('Mul', ['s_int', 'zero_i'], ['zi']),
        helper.make_node('Add', ['zi', 'c_c'], ['classes']),
    ]
    graph = helper.make_graph(
        nodes,
        'boxes',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, ['N', 3, 32, 32])],
        [
            helper.make_tensor_value_info('boxes', TensorProto.FLOAT, ['N', 3, 4]),
            helper.make_tensor_value_info('scores', TensorProto.FLOAT, ['N', 3]),
            helper.make_tensor_value_info('classes', TensorProto.INT64, ['N', 3]),
        ],
        [
            const('zero', 0.0),
            const('b_c', b.reshape(1, 1, 3, 4)),
            const('s_c', s),
            numpy_helper.from_array(np.array([1], dtype=np.int64), 'ax1'),
            numpy_helper.from_array(np.array([2, 3], dtype=np.int64), 'ax23'),
            numpy_helper.from_array(np.array(0, dtype=np.int64), 'zero_i'),
            numpy_helper.from_array(np.array([[0, 0, 1]], dtype=np.int64), 'c_c'),
        ],
    )
    save(graph, 'boxes.onnx')


def busy():
    nodes = []
    prev = 'x'
    for i in range(8):
        nodes.append(helper.make_node('MatMul', [prev, prev], [f'm{i}']))
        out = 'y' if i == 7 else f't{i}'
        nodes.append(helper.make_node('Tanh', [f'm{i}'], [out]))
        prev = out
    graph = helper.make_graph(
        nodes,
        'busy',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 'n', 'n'])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 'n', 'n'])],
    )
    save(graph, 'busy.onnx')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    fixed_centernet()
    toy_centernet()
    boxes()
    busy()
    sys.exit(0)
