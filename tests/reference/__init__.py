"""Independent oracles the tests compare ``helpers`` against, each written once.

- :mod:`reference.conv`: convolution by counting loops (NCHW, any stride/padding/groups).
- :mod:`reference.counts`: AlexNet and VGG parameters, MACs and stored values by hand.
- :mod:`reference.resnet`: ResNet-50 counts at any width, from the paper's block table.
- :mod:`reference.pipelines`: running the engine as several pipelines or one serial one.
- :mod:`reference.resnet20`: the CIFAR-style ResNet-20 at any width and input size; its
  training loss in float64.
- :mod:`reference.finite_diff`: gradients by central differences.
- :mod:`reference.pooling`: max and average pooling window by window (PyTorch's rules).
"""
