"""The `run` channel: a program (argv, in its own process group) with the notification as HEALERD_* variables."""

from __future__ import annotations

import os

from daemon.config.models import RunChannel
from daemon.engine.actions import combine_output
from daemon.engine.notification import Notification
from daemon.engine.notify.base import DeliveryError
from daemon.engine.proc import run_argv


async def send(
    channel: RunChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    env = {**os.environ, **message.environment()}
    try:
        result = await run_argv(channel.run, timeout=timeout, env=env, cwd=cwd, output_limit=8192)
    except OSError as exc:
        raise DeliveryError(f"cannot run {channel.run[0]}: {exc.strerror or exc}") from None
    if result.timed_out:
        raise DeliveryError(f"{channel.run[0]}: timed out after {timeout:g}s; process group killed")
    if result.exit_code != 0:
        output = combine_output(result.stdout_tail, result.stderr_tail)
        raise DeliveryError(f"{channel.run[0]}: exit {result.exit_code}" + (f": {output}" if output else ""))
    return None
