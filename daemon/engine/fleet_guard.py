"""The fleet-wide guard's decision, as a pure function of what the centre says.

A shared cause (DNS, a database every host uses) opens the same component's breaker on many hosts at
once, and restarting that component on 500 hosts fixes nothing and may make the outage worse. So when
more than `max_share` of the hosts that run a component (and at least `min_hosts` of them) opened its
breaker within the window, the fleet records one incident and every host holds local remediation of
that component; the incident closes when the share falls back to or under the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Share:
    component: str
    hosts_open: int
    hosts_total: int

    @property
    def ratio(self) -> float:
        return self.hosts_open / self.hosts_total if self.hosts_total else 0.0


@dataclass(frozen=True)
class Plan:
    open: tuple[Share, ...]
    close: tuple[int, ...]  # fleet incident ids

    def __bool__(self) -> bool:
        return bool(self.open or self.close)


def shared(share: Share, max_share: float, min_hosts: int) -> bool:
    return share.hosts_open >= min_hosts and share.ratio > max_share


def plan(shares: list[Share], open_incidents: dict[str, int], max_share: float, min_hosts: int) -> Plan:
    """Which fleet incidents to open (component over the threshold, none open) and to close."""
    over = {s.component: s for s in shares if shared(s, max_share, min_hosts)}
    to_open = tuple(s for name, s in sorted(over.items()) if name not in open_incidents)
    to_close = tuple(i for name, i in sorted(open_incidents.items()) if name not in over)
    return Plan(to_open, to_close)


def reason(share: Share, max_share: float) -> str:
    return (
        f"{share.hosts_open} of {share.hosts_total} hosts opened {share.component}'s breaker "
        f"({share.ratio:.0%} > {max_share:.0%}): a shared cause, not fixed by restarting it everywhere"
    )
