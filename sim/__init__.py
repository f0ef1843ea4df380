"""Thermal-model simulator with wire-level CPX400DP and pyrometer emulators."""
