"""Independent oracles the tests compare ``helpers`` against, each written once.

- :mod:`reference.conv`: convolution by counting loops (NCHW, any stride/padding/groups).
- :mod:`reference.counts`: AlexNet and VGG parameters, MACs and stored values by hand.
- :mod:`reference.resnet`: ResNet-50 counts at any width, from the paper's block table.
"""
