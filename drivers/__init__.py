"""Instrument drivers: Aim-TTi CPX400DP (pyvisa) and two-colour pyrometers (pyserial, swappable codecs)."""
