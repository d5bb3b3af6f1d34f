"""Graceful degradation in the daemon: `service.py` (score, level, flags, state.json, on_change hooks) and
`state.py` (the tracker's row and the operator's override commands, shared with `healerd degrade`).

Nothing is imported here: `healerd degrade` uses state.py without loading the daemon.
"""
