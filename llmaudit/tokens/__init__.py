"""Offline tokenization, per-model calibration and attribution of tokens to prompt components."""
