#!/usr/bin/env python3
"""Stand-in for a load balancer switch: records which backend traffic goes to.

The example's fallback step runs `route_to.py --state run/route app-standby` to fail over and
`... app` to fail back; a real site would call its proxy's API here. The file is replaced atomically
so a reader never sees half a name.

    route_to.py --state FILE NAME
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="record the active backend")
    parser.add_argument("--state", required=True, help="file holding the active backend's name")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    state = Path(args.state)
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_name(state.name + f".{os.getpid()}.tmp")
    tmp.write_text(args.name + "\n")
    os.replace(tmp, state)
    print(f"traffic now goes to {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
