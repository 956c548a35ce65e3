"""Simulators that write realistic instrument files with known ground truth."""
