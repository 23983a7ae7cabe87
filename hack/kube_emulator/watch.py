"""Watch bookkeeping: the events a write produces, the kept history that
watches resume from (with the oldest resourceVersion still served), and one
watcher's queue with the watch cache's selector semantics.

Nothing here locks: the store calls it under its lock.
"""

import collections
import copy
import queue

from .errors import bad_request, gone

CLOSE = object()  # queued to end a watch stream


class Event:
    """A committed change: its resourceVersion, (group, plural), type, objects."""

    __slots__ = ("rv", "key", "type", "old", "new")

    def __init__(self, rv, key, etype, old, new):
        self.rv, self.key, self.type, self.old, self.new = rv, key, etype, old, new


class Watcher:
    """One watch stream; the store queues its events under the store lock.

    Selectors apply per event the way the watch cache does: an object that
    stops matching arrives as DELETED carrying its previous content (which
    matched) at the new resourceVersion, one that starts matching as ADDED.
    """

    def __init__(self, rtype, selector):
        self.rtype = rtype
        self.selector = selector
        self.q = queue.Queue()

    def offer(self, ev):
        was = ev.old is not None and self.selector.matches(ev.old)
        now = ev.new is not None and self.selector.matches(ev.new)
        if ev.type == "ADDED" and now:
            self.q.put(("ADDED", ev.new))
        elif ev.type == "MODIFIED":
            if was and now:
                self.q.put(("MODIFIED", ev.new))
            elif now:
                self.q.put(("ADDED", ev.new))
            elif was:
                # As the watch cache's convertToWatchEvent: the previous
                # content (the one that matched), at this event's version.
                gone_obj = copy.deepcopy(ev.old)
                gone_obj["metadata"]["resourceVersion"] = str(ev.rv)
                self.q.put(("DELETED", gone_obj))
        elif ev.type == "DELETED" and (was or now):
            self.q.put(("DELETED", ev.new))


class History:
    """The last `size` events. A watch from resourceVersion >= oldest is
    served from here; an older one is 410 Expired."""

    def __init__(self, size):
        self.size = size
        self.events = collections.deque()
        self.oldest = 0

    def append(self, ev):
        self.events.append(ev)
        while len(self.events) > self.size:
            dropped = self.events.popleft()
            self.oldest = max(self.oldest, dropped.rv)

    def check_rv(self, rv_param):
        """The resourceVersion as a number; 400 if it is none, 410 if too old."""
        try:
            rv = int(rv_param)
        except ValueError:
            raise bad_request('invalid resource version "%s"' % rv_param)
        if rv < self.oldest:
            raise gone("too old resource version: %d (%d)" % (rv, self.oldest))
        return rv

    def since(self, rv, key):
        """The kept events of (group, plural) key after resourceVersion rv."""
        return [ev for ev in self.events if ev.rv > rv and ev.key == key]

    def compact(self, rv):
        """Every resourceVersion below rv becomes too old."""
        self.oldest = rv
        self.events.clear()
