"""The library: every image the bridge made, kept in one history and shown in the user's browser.

Two halves, one wing. The history sits beside the composer: every face records its generations
through ``record.generate`` (one call each: the CLI, the MCP server's job worker, and so the card
and the library's own actions) into one SQLite database in the user state folder:

    db (where it is, how it opens: WAL, waits for a busy writer) · schema (versions, migrations)
    · entries (writes) · query (pages, search, filters, totals) · search (prompt text to FTS5 terms)
    · cost (what a relay reported it charged) · importer (job records older than the history)

The page is a face of its own, ``image-relay-library``: a loopback web server (main, web) that
refuses what it must first (guard: Host, Origin, the token cookie, CSRF), serves only files the
history records (views, thumbs), runs billed actions as jobs of the MCP server's kind (actions),
and says where it listens, so tool results and the CLI can link to it (running). The page
itself is package data in ``page/``; its detail view is the MCP Apps card (server/card). What a
shared server's callers may read of their own history is ``remote``. Words: language, words.

Nothing here imports the MCP SDK but ``remote``: the library works without the ``[mcp]`` extra.
"""
