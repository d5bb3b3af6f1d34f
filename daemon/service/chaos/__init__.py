"""Chaos experiments in the daemon: `service.py` (runs on command or schedule, one at a time, the startup
sweep of runs a dead daemon left), `run.py` (one run: inject, watch, revert, roll back, judge), `faults.py`
(the fault kinds' edges), `health.py` (what the run watches).

Nothing is imported here: `healerd chaos` reads service.py's command names without loading the daemon.
"""
