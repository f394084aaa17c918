"""The counting conventions, stated once.

Tools disagree on what a "FLOP" is and whether a bias counts, so every number
in this workbook follows these rules (the README repeats them):

- One **MAC** (multiply-accumulate) is one multiply plus one add.
- Convolution MACs: :math:`H_{out} W_{out} C_{out} (C_{in}/g) K_h K_w` per image.
- Dense (linear) MACs: ``in_features * out_features`` per input vector.
- Bias adds, batch norm, pooling, activation functions and residual adds are
  **not** MACs.
- **FLOPs** = 2 x MACs.
- **Parameters** are learned values: weights and biases (and a batch norm's
  scale and shift; its running statistics are buffers, not parameters).
- **Activations** of a layer are the elements of its output.
- **Bytes** = elements x bytes per element; fp32 (4 bytes) unless stated.
- Byte sizes are printed with an explicit base: SI (1 MB = 10**6 B) or IEC
  (1 MiB = 2**20 B).

Examples
--------
>>> BYTES_PER_ELEM
4
>>> FLOPS_PER_MAC
2
"""

BYTES_PER_ELEM = 4
"""Default element size: fp32."""

FLOPS_PER_MAC = 2
"""A multiply and an add."""

TEXT = __doc__.split("Examples")[0].split("\n\n", 1)[1].strip()
"""The conventions as prose, for printing in notebooks."""

TRAINING = """\
Training (the numpy engine's backward pass, notebook 11):
- Backward MACs of a convolution or dense layer = 2 x its forward MACs: the weight
  gradient (dW = P^T dY) and the input gradient (dP = dY W^T) are each one GEMM of
  the forward GEMM's sizes.
- Except where no earlier layer has parameters (the network's first layer, fed by
  the image): its input gradient is not needed and not computed, so its backward
  costs 1 x its forward MACs.
- Batch norm, ReLU, pooling, additions, the loss and the SGD update are not MACs,
  forward or backward; so a training step is 3 x forward MACs minus the first
  layer's forward MACs."""
"""The training-cost convention, as prose (the README repeats it)."""


def _markdown(text):
    """RST prose -> Markdown: ``:math:`x``` -> ``$x$``, ``10**6`` -> ``$10^{6}$``,
    double backticks -> single, `` x `` (times) -> `` × ``."""
    import re
    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    text = re.sub(r"(\d+)\*\*(\d+)", r"$\1^{\2}$", text)
    return text.replace("``", "`").replace(" x ", " × ")


MARKDOWN = _markdown(TEXT)
"""The conventions as Markdown, for ``IPython.display.Markdown`` in a notebook.

Examples
--------
>>> "**MAC**" in MARKDOWN and ":math:" not in MARKDOWN and "``" not in MARKDOWN
True
>>> "$10^{6}$" in MARKDOWN
True
"""
