"""Renderers: each draws from the run document and derives nothing."""
