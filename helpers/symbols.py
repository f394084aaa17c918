"""Sympy integer symbols for the symbolic twins of :mod:`helpers.formulas`.

All symbols are declared ``integer=True, positive=True`` so that ``//``
prints as a floor of a fraction and simplifications that need positivity go
through. Names follow the notation of the exercises:

========================  =====================================================
``M, N, K``               BLAS GEMM sizes: ``M x K`` times ``K x N``
``N_i, N_o``              input and output feature maps (channels)
``L_d, L_r, L_c``         input depth, rows, columns
``M_r, M_c``              output rows and columns
``F_r, F_c``              filter rows and columns
``L, F, S, P, D``         one-axis length, filter, stride, padding, dilation
``B``                     batch size
========================  =====================================================

Examples
--------
>>> from helpers.symbols import N_i, F_r, F_c
>>> N_i * F_r * F_c
F_c*F_r*N_i
"""

import sympy as sp

_ASSUME = {"integer": True, "positive": True}

M, N, K = sp.symbols("M N K", **_ASSUME)
N_i, N_o = sp.symbols("N_i N_o", **_ASSUME)
L_d, L_r, L_c = sp.symbols("L_d L_r L_c", **_ASSUME)
M_r, M_c = sp.symbols("M_r M_c", **_ASSUME)
F_r, F_c = sp.symbols("F_r F_c", **_ASSUME)
L, F, S, P, D = sp.symbols("L F S P D", **_ASSUME)
B = sp.symbols("B", **_ASSUME)

ALL = {str(s): s for s in (M, N, K, N_i, N_o, L_d, L_r, L_c, M_r, M_c, F_r, F_c,
                          L, F, S, P, D, B)}
"""Every symbol by name, for parsing answers such as ``"F_r*F_c*N_i"``."""
