"""Conversions from the aviation units sources send to the SI units the model holds.

Multiply a value in the first unit by the constant to get the second: feet to metres,
knots to metres per second, feet per minute to metres per second.
"""

from __future__ import annotations

FT_TO_M = 0.3048
KT_TO_MPS = 1852 / 3600  # 0.514444...
FPM_TO_MPS = FT_TO_M / 60  # 0.00508
