"""Bulk actions on trace selections: pin / unpin, add to the annotation queue, export.

Above ``traces`` (whose ``selection`` module says what is selected), ``review``
and ``exports`` (whose services each action calls); the list's URL table
points here, as it points at the annotation workspace.
"""
