"""Renderers: each draws from the run document and derives nothing.

- ``timeline_model``: the document → what the timelines draw (spans, bars, lifelines,
  markers, time range), computed once; ``looks``: how each of those looks, declared once.
- ``lanes`` (terminal timeline), ``run_view``, ``compare_view``, ``scenario_view``,
  ``console`` (the console, and lines laid out for its width): the terminal views (rich);
  ``list_view``: ``poolctl list``, plain.
- ``svg_export``, ``perfetto_export``, ``html_export`` (written by ``exports``) and
  ``json_doc``: files and JSON, without rich.
"""
