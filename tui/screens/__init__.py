"""Screens of the flashtop TUI."""
