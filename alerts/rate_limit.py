"""A receiver's rate limit with a burst: at most ``burst`` messages in any ``burst × interval_s`` seconds.

PagerDuty documents its limit per minute (Redline stays at 100 events a minute per routing key),
so a backlog after an outage may go as 100 events at once, then the next 100 a minute after the
first: the limit is never exceeded in any 60-second window. A token bucket of 100 refilling at
100 a minute would let up to 199 events through inside one minute (a full bucket, then the
refill) and be answered 429; so this is a sliding-window log of the last ``burst`` send times
instead. With ``burst`` 1 it is a plain minimum spacing (Slack's one message a second).
"""

from __future__ import annotations

from collections import deque

__all__ = ["RateLimit"]


class RateLimit:
    """The send times of one notifier's last messages; ``free_at`` says when the next may go."""

    def __init__(self) -> None:
        self._sent: deque[float] = deque()

    def free_at(self, burst: int, interval_s: float) -> float:
        """The earliest time the next message keeps at most ``burst`` in any ``burst × interval_s`` s."""
        burst = max(1, burst)
        while len(self._sent) > burst:
            self._sent.popleft()
        if interval_s <= 0 or len(self._sent) < burst:
            return float("-inf")
        return self._sent[0] + burst * interval_s

    def record(self, at: float, burst: int) -> None:
        """A message (an attempt: a refused one counts too) went at ``at``."""
        self._sent.append(at)
        while len(self._sent) > max(1, burst):
            self._sent.popleft()
