"""Windowed aggregates computed in the stream."""
