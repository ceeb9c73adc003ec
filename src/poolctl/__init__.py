"""poolctl: see how Python's process pools really shut down."""

__version__ = "0.1.0"
