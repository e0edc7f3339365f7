"""The library page, ``image-relay-library``: every image in the history, in the user's browser.

A web server on 127.0.0.1 only (main, web) that refuses what it must before anything else (guard:
a foreign Host, a foreign Origin, no token, no CSRF token on a change), answers the page's JSON
(api) in the shapes the page and the image card draw (views), serves only files the history
records and their thumbnails (thumbs), and runs the card's billed actions as jobs of the MCP
server's own kind (actions). The page itself is package data in ``page/``; its words are in
``words``, in the reader's language as ``bridge/i18n`` chooses it and with its catalogue's Chinese;
its detail view hosts the MCP Apps image card
(``server/card/card.html``). It reads and writes the history through ``history/`` and imports
no MCP SDK: it works without the ``[mcp]`` extra.
"""
