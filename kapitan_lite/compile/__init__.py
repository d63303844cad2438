"""Compiling targets: plan, parallel runner, writer."""
