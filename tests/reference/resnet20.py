"""CIFAR-style ResNet-20 counted from the paper's description (He et al. 2016, section 4.2),
independent of helpers: a 3x3 stem, three stages of three basic blocks (two 3x3
convolutions each) at ``width``, 2 ``width``, 4 ``width`` channels, stride 2 into stages 2
and 3, global average pooling, a dense classifier; batch norm after every convolution."""


def resnet20_counts(width=16, in_channels=1, side=8, classes=10, shortcut="projection"):
    """``(params, MACs, activations)`` for one ``in_channels x side x side`` image.

    ``shortcut="projection"``: a 1x1 stride-2 convolution + batch norm where a stage
    starts (option B); ``"zeros"``: the paper's option A, an identity whose extra
    channels are zeros (no parameters, no MACs; its output is not a leaf).
    Activations count every leaf output: convolution, batch norm, ReLU (including the
    one after each addition), the pooled vector and the logits.
    """
    params = macs = acts = 0
    # stem: conv, batch norm, ReLU
    params += 9 * in_channels * width + 2 * width
    macs += side * side * width * in_channels * 9
    acts += 3 * width * side * side
    c_prev = width
    for stage in range(3):
        planes, s = width << stage, side >> stage
        for block in range(3):
            c_in = c_prev if block == 0 else planes
            params += 9 * c_in * planes + 9 * planes * planes + 4 * planes
            macs += s * s * planes * 9 * (c_in + planes)
            acts += 6 * planes * s * s                  # conv1 bn1 relu1 conv2 bn2, relu after add
            if block == 0 and stage > 0 and shortcut == "projection":
                params += c_in * planes + 2 * planes
                macs += s * s * planes * c_in
                acts += 2 * planes * s * s
        c_prev = planes
    params += c_prev * classes + classes
    macs += c_prev * classes
    acts += c_prev + classes
    return params, macs, acts


# What notebook 11's rule keeps for backward in ResNet-20 (width 16, one 8 x 8 image), by hand:
KEPT_PER_IMAGE = (64                                  # the input,
                  + 2 * 16 * 64                       # stem conv and ReLU,
                  + 3 * 4 * 16 * 64                   # stage 1: conv1, relu1, conv2, relu per block,
                  + 3 * 4 * 32 * 16 + 32 * 16         # stage 2 and its shortcut conv,
                  + 3 * 4 * 64 * 4 + 64 * 4           # stage 3 and its shortcut conv,
                  + 64)                               # the pooled vector
BN_CHANNELS = 16 + 6 * 16 + 7 * 32 + 7 * 64           # each keeps its mean and 1/sigma (not per image)
