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


def _np_ops():
    import numpy as np

    def conv(x, w, stride, padding):
        """Sum over the taps of strided windows times the tap's weights (NCHW, no bias)."""
        k = w.shape[2]
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        side = (x.shape[2] + 2 * padding - k) // stride + 1
        out = 0
        for a in range(k):
            for b in range(k):
                window = xp[:, :, a:a + stride * (side - 1) + 1:stride, b:b + stride * (side - 1) + 1:stride]
                out = out + np.einsum("nchw,oc->nohw", window, w[:, :, a, b])
        return out

    def bn(x, gamma, beta):
        """Training mode: each channel normalised by its batch mean and biased variance."""
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        return gamma[None, :, None, None] * (x - mean) / np.sqrt(var + 1e-5) + beta[None, :, None, None]

    def loss(z, labels):
        """Mean softmax cross-entropy."""
        top = z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
        return float((log_sum - z[np.arange(len(labels)), labels]).mean())

    return {"conv": conv, "bn": bn, "relu": lambda x: np.maximum(x, 0), "pool": lambda x: x.mean(axis=(2, 3)),
            "loss": loss}


def resnet20_loss(params, x, labels, ops=None):
    """Loss of one training batch of ResNet-20 (float64 unless ``ops`` say otherwise),
    written from the paper's description with the engine's parameter names as input:
    stem, three stages of three basic blocks (projection shortcut where a stage strides),
    global average pooling, dense layer."""
    import numpy as np
    if ops is None:
        ops = _np_ops()
        params = {name: {k: np.asarray(v, np.float64) for k, v in p.items()} for name, p in params.items()}
        x = np.asarray(x, np.float64)
    conv, bn, relu = ops["conv"], ops["bn"], ops["relu"]

    def conv_bn(h, conv_name, bn_name, stride, padding):
        scale, shift = params[bn_name]["weight"], params[bn_name]["bias"]
        return bn(conv(h, params[conv_name]["weight"], stride, padding), scale, shift)

    h = relu(conv_bn(x, "conv1", "bn1", 1, 1))
    for stage in (1, 2, 3):
        for block in range(3):
            name, stride = f"layer{stage}.{block}", 2 if stage > 1 and block == 0 else 1
            out = relu(conv_bn(h, f"{name}.conv1", f"{name}.bn1", stride, 1))
            out = conv_bn(out, f"{name}.conv2", f"{name}.bn2", 1, 1)
            shortcut = conv_bn(h, f"{name}.shortcut.0", f"{name}.shortcut.1", stride, 0) \
                if f"{name}.shortcut.0" in params else h
            h = relu(out + shortcut)
    logits = ops["pool"](h) @ params["fc"]["weight"].T + params["fc"]["bias"]
    return ops["loss"](logits, labels)
