"""Widgets of the flashtop TUI."""
