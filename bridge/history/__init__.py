"""The history: every generation and edit the bridge made, from every face, in one SQLite database
in the user state folder (SPEC §10).

Belongs here: ``record`` (the one call each face makes to generate: the CLI, the MCP server's job
worker, and through it the card and the library's actions), and what it writes and reads: db (where
the database is and how it opens: WAL, a writer waits for another), schema (numbered steps, each
database brought up to the newest), entries (writes), query (pages, search, filters, totals),
search (prompt text to FTS5 terms, Chinese included), cost (what a relay reported it charged),
upkeep (deleted files marked missing, entries of dead processes lost), importer (job records older
than the history), running (where a library page listens, so results can link to it).
Not here: showing it (``library/``, the page; ``server/caller_history``, a shared server's callers).
The history never stands in a generation's way: a database that cannot be written costs the record,
never the image.
"""
