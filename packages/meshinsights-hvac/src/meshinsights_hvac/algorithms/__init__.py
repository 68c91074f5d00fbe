"""Shared vectorized helpers: stage codes, time arrays, cycle segmentation, robust stats."""
