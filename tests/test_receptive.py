"""Receptive fields against an impulse traced through small networks.

The tracer here is independent of helpers: a 1-D numpy forward pass of
positive-weight convolutions and max pools written from the hyper-parameters,
fed one impulse per input position. The set of input positions that reach an
output position is its receptive field."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.layers import Conv2d, MaxPool2d
from helpers.model import Parallel, Sequential
from helpers.receptive import final_field, receptive_field


def forward_1d(x, layers):
    """``layers``: list of (kind, k, s, p, d); all-ones conv, max pool."""
    for kind, k, s, p, d in layers:
        xp = np.pad(x, p)
        span = d * (k - 1) + 1
        n = (xp.size - span) // s + 1
        if n < 1:
            return np.zeros(0)
        taps = np.stack([xp[t * d: t * d + (n - 1) * s + 1: s] for t in range(k)])
        x = taps.sum(0) if kind == "conv" else taps.max(0)
    return x


def measured_fields(layers, size, branches=None):
    """For every output position: (first, last) input index that reaches it."""
    reach = {}
    for i in range(size):
        x = np.zeros(size)
        x[i] = 1.0
        outs = [forward_1d(x, layers)] if branches is None else [forward_1d(x, b) for b in branches]
        out = np.maximum.reduce(outs) if branches else outs[0]
        for o in np.nonzero(out)[0]:
            lo, hi = reach.get(o, (i, i))
            reach[o] = (min(lo, i), max(hi, i))
    n_out = (forward_1d(np.zeros(size), layers if branches is None else branches[0])).size
    return reach, n_out


def as_spec(layers):
    seq = []
    for kind, k, s, p, d in layers:
        if kind == "conv":
            seq.append(Conv2d(1, (1, k), stride=(1, s), padding=(0, p), dilation=(1, d)))
        else:
            seq.append(MaxPool2d((1, k), (1, s), padding=(0, p)))
    return Sequential(*seq)


layer_st = st.tuples(st.sampled_from(["conv", "pool"]), st.integers(1, 5), st.integers(1, 3),
                     st.integers(0, 2), st.integers(1, 2)).map(
    lambda t: (t[0], t[1], t[2], min(t[3], t[1] // 2), t[4] if t[0] == "conv" else 1))


def check_against_impulse(fields_width, layers, size, branches=None):
    r, j, p = fields_width
    reach, n_out = measured_fields(layers, size, branches)
    assert n_out >= 1
    for o in range(n_out):
        lo, hi = o * j - p, o * j - p + r - 1
        first, last = reach[o]
        # the field's end taps are always real taps; a dilated field may have holes,
        # so where the border clips it the first reached pixel can lie inside
        assert max(lo, 0) <= first and last <= min(hi, size - 1), (o, reach[o], lo, hi)
        if lo >= 0:
            assert first == lo, (o, reach[o], lo)
        if hi <= size - 1:
            assert last == hi, (o, reach[o], hi)



def width_of(field):
    return tuple(v[1] if isinstance(v, tuple) else v for v in (field.size, field.stride, field.padding))


@settings(max_examples=60, deadline=None)
@given(st.lists(layer_st, min_size=1, max_size=5))
def test_chain_matches_impulse(layers):
    size = 60
    if forward_1d(np.zeros(size), layers).size < 1:
        return
    check_against_impulse(width_of(final_field(as_spec(layers))), layers, size)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(layer_st, layer_st), min_size=1, max_size=3), st.integers(0, 2))
def test_parallel_union_matches_impulse(pairs, pool_pad):
    # two branches with the same strides and output size; the merged field covers both
    a = [x for x, _ in pairs]
    b = [("conv", k, s_a, min(p, k // 2), 1) for (_, _, s_a, _, _), (_, k, _, p, _) in pairs]
    size = 50
    out_a, out_b = forward_1d(np.zeros(size), a), forward_1d(np.zeros(size), b)
    if out_a.size < 1 or out_a.size != out_b.size:
        return
    spec = Sequential(Parallel(as_spec(a), as_spec(b)))
    check_against_impulse(width_of(final_field(spec)), None, size, branches=[a, b])


def test_hand_drawn_examples():
    # three 3x3 convolutions, stride 1: 7; with a stride-2 middle layer: 3, 5, 9
    three = Sequential(*[Conv2d(1, 3)] * 3)
    assert final_field(three).size == 7
    fields = receptive_field(Sequential(Conv2d(1, 3), Conv2d(1, 3, stride=2), Conv2d(1, 3)))
    assert [(f.size, f.stride) for f in fields] == [(3, 1), (5, 2), (9, 2)]
    # a 5x5 dilated by 2 sees 9 pixels
    assert final_field(Sequential(Conv2d(1, 5, dilation=2))).size == 9
