"""ResNet-50 counted from first principles (He et al. 2016), independent of helpers."""


def resnet50_counts(width=1.0, stride_on_1x1=False):
    """(params, MACs, activations) for one 3x224x224 image; every leaf output counted."""
    totals = _count(width, stride_on_1x1)
    return totals["params"], totals["macs"], totals["acts"]


def resnet50_conv_weights(width=1.0):
    """Weights of the convolutions alone (no batch norm, no classifier)."""
    return _count(width, False)["conv"]


def _count(width, stride_on_1x1):
    totals = {"params": 0, "macs": 0, "acts": 0, "conv": 0}

    def conv(cin, cout, k, side):
        totals["conv"] += cout * cin * k * k
        totals["params"] += cout * cin * k * k
        totals["macs"] += side * side * cout * cin * k * k
        totals["acts"] += cout * side * side

    def norm_relu(c, side, relu=True):
        totals["params"] += 2 * c                         # batch norm scale and shift
        totals["acts"] += c * side * side * (2 if relu else 1)

    stem = int(64 * width)
    conv(3, stem, 7, 112)
    norm_relu(stem, 112)
    totals["acts"] += stem * 56 * 56                      # max pool
    cin, side = stem, 56
    for blocks, planes, stride in ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)):
        p, out = int(planes * width), int(planes * 4 * width)
        for b in range(blocks):
            s = stride if b == 0 else 1
            new = side // s
            first = new if stride_on_1x1 else side        # where the 1x1 runs
            conv(cin, p, 1, first)
            norm_relu(p, first)
            conv(p, p, 3, new)
            norm_relu(p, new)
            conv(p, out, 1, new)
            norm_relu(out, new, relu=False)
            if b == 0:
                conv(cin, out, 1, new)
                norm_relu(out, new, relu=False)
            totals["acts"] += out * new * new             # ReLU after the residual add
            cin, side = out, new
    totals["acts"] += cin + 1000                          # global pool, classifier
    totals["params"] += cin * 1000 + 1000
    totals["macs"] += cin * 1000
    return totals
