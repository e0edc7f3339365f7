"""Operating-system differences, each behind one small function: console text encoding, process
liveness, starting a process that outlives its starter (out of a client's Windows job object
included) and the private line to it, file URIs and replacing files another process holds open.

What belongs: code that would otherwise branch on ``sys.platform`` elsewhere. What does not: user
folders (``paths``), opening images in a viewer (``viewer``), anything that knows about relays or jobs.
"""
