"""AlexNet and VGG counted by hand from their papers' layer lists (no helpers code)."""


def vgg_counts(config):
    """VGG (Simonyan & Zisserman 2015) on 3x224x224 from its layer list: 3x3 same
    convolutions, 2x2 pools, three dense layers. Returns (params, MACs, stored values:
    input + conv, pool and dense outputs, ReLUs in place)."""
    params = macs = 0
    stored, cin, side = 3 * 224 * 224, 3, 224
    for item in config:
        if item == "M":
            side //= 2
        else:
            params += 9 * cin * item + item
            macs += side * side * item * cin * 9
            cin = item
        stored += cin * side * side
    for fan_in, fan_out in ((cin * side * side, 4096), (4096, 4096), (4096, 1000)):
        params, macs, stored = params + fan_in * fan_out + fan_out, macs + fan_in * fan_out, stored + fan_out
    return params, macs, stored


VGG16 = vgg_counts([64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"])
VGG19 = vgg_counts([64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                    512, 512, 512, 512, "M"])

# AlexNet (Krizhevsky et al. 2012), single tower on 3x227x227
ALEX_CONV_MACS = (55 * 55 * 96 * 11 * 11 * 3 + 27 * 27 * 256 * 5 * 5 * 96 + 13 * 13 * 384 * 3 * 3 * 256
                  + 13 * 13 * 384 * 3 * 3 * 384 + 13 * 13 * 256 * 3 * 3 * 384)
ALEX_FC = [(9216, 4096), (4096, 4096), (4096, 1000)]               # (in, out) of fc6, fc7, fc8
ALEX_FC_MACS = sum(i * o for i, o in ALEX_FC)
ALEX_MACS = ALEX_CONV_MACS + ALEX_FC_MACS
ALEX_FC_PARAMS = sum(i * o + o for i, o in ALEX_FC)
ALEX_CONV = (11 * 11 * 3 * 96 + 96) + (5 * 5 * 96 * 256 + 256) + (3 * 3 * 256 * 384 + 384) \
    + (3 * 3 * 384 * 384 + 384) + (3 * 3 * 384 * 256 + 256)
ALEX_PARAMS = ALEX_CONV + ALEX_FC_PARAMS
ALEX_GROUPED_CONV = (11 * 11 * 3 * 96 + 96) + (5 * 5 * 48 * 256 + 256) + (3 * 3 * 256 * 384 + 384) \
    + (3 * 3 * 192 * 384 + 384) + (3 * 3 * 192 * 256 + 256)


def inception_params(c_in, c1, r3, c3, r5, c5, proj):
    """Weights and biases of an inception module with reductions (Szegedy et al. 2015,
    Fig. 2b): 1x1; 1x1 then 3x3; 1x1 then 5x5; pool then 1x1 projection."""
    def conv(cin, cout, k):
        return k * k * cin * cout + cout

    return (conv(c_in, c1, 1) + conv(c_in, r3, 1) + conv(r3, c3, 3) + conv(c_in, r5, 1)
            + conv(r5, c5, 5) + conv(c_in, proj, 1))


def inception_macs(side, c_in, c1, r3, c3, r5, c5, proj):
    """MACs of the same module on a ``side x side`` grid (stride 1, "same" padding):
    K * K * C_in MACs per output value of each convolution; pooling does none."""
    return side * side * (c_in * c1 + c_in * r3 + 9 * r3 * c3 + c_in * r5 + 25 * r5 * c5 + c_in * proj)


# torchvision's AlexNet (Krizhevsky 2014, "One weird trick"): 64/192/384/256/256 maps on 3x224x224
ALEX_TV_CONV_MACS = (55 * 55 * 64 * 3 * 11 * 11 + 27 * 27 * 192 * 64 * 25 + 13 * 13 * 384 * 192 * 9
                     + 13 * 13 * 256 * 384 * 9 + 13 * 13 * 256 * 256 * 9)
ALEX_TV_MACS = ALEX_TV_CONV_MACS + ALEX_FC_MACS
ALEX_TV_PARAMS = (11 * 11 * 3 * 64 + 64) + (5 * 5 * 64 * 192 + 192) + (3 * 3 * 192 * 384 + 384) \
    + (3 * 3 * 384 * 256 + 256) + (3 * 3 * 256 * 256 + 256) + ALEX_FC_PARAMS
