"""Spiders: they decide which URL comes next, nothing else."""
