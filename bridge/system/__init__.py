"""Operating-system differences, each behind one small function: console text encoding, process
liveness, file URIs and replacing files another process holds open.

What belongs: code that would otherwise branch on ``sys.platform`` elsewhere. What does not: user
folders (``paths``), opening images in a viewer (``viewer``), anything that knows about relays or jobs.
"""
