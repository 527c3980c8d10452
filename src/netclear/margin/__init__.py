"""Pure margin rules (standard cross/isolated, unified account ratio, portfolio margin, scenario margin).
Functions take numbers and return numbers; the engine and the vectorised risk engine both call or mirror
them. The margin calculator, an application over these rules and the engine, is :mod:`netclear.calculator`.
"""
