"""Speaking the field's file formats: SpecLab runs out as, and back in from, other tools' logs.

Each format is one module (:mod:`engine.interop.inspect_log` for Inspect eval logs). The
third-party packages behind them are imported inside the functions that need them, so the
dashboard process does not load them at start-up.
"""
