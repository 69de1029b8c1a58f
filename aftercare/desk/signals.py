"""``ticket_changed`` is sent inside the service's transaction after each ``Event``.

Its receivers (the SLA engine) run in the same transaction, so a failure rolls the
change back instead of leaving clocks out of step. Arguments: ``ticket`` (the locked,
updated instance) and ``event``. What others are told is ``ticket_followup``, after the
commit (``desk.followups``).
"""

from django.dispatch import Signal

ticket_changed = Signal()

# Sent by ``open_ticket`` before its transaction, with ``ticket`` (not saved yet: no pk,
# no number) and ``at``: receivers do their look-ups and arithmetic there, outside the
# write lock, and may return a function ``write(ticket)`` that the service calls in its
# transaction right after the insert (the SLA engine writes its clocks so).
ticket_opening = Signal()

# Sent after an approval is requested, with ``approval`` and ``links``: a list of
# (user, token) pairs. The tokens exist only here (the database keeps their hashes), so
# the mail app's receiver must put them into the messages it queues.
approval_requested = Signal()

# Sent after the change's commit (``desk.followups``), with ``ticket``, ``event`` and the
# context the service gave (e.g. ``message``, ``delivery``): what others are told
# (mail, in-app notices, webhooks, chats) and the search index. Receivers must be safe
# to run twice for one event (their rows carry the event's key): a crash may repeat them.
ticket_followup = Signal()
