"""The self-healer: `loop.py` (the pass over every component: decide, record, act), `commit.py` (the one
way a ladder change is written), `state.py` (the ladders in memory), `steps.py` + `verify.py` (running and
verifying a recovery step), `notify.py` (escalations), `facts.py` (what decide() reads besides the ladder),
`intents.py` (the bounded intent commit and its journal), `restore.py` (start-up), `commands.py` (ack, heal).

Nothing is imported here: the CLI's offline `ack`/`heal` use commands.py without loading the daemon.
"""
