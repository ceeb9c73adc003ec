"""The subject side of poolctl: runs a scenario against a real pool and reports events.

Everything in this package runs inside the observed interpreter. It is standard-library
only, runs on CPython 3.8 and newer, installs no signal handlers, and does nothing in a
worker beyond one write per event.
"""
