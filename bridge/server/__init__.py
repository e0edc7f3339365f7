"""The MCP wing: the ``image-relay-mcp`` server, its background jobs and the text the model reads.

Belongs here: MCP transports, the tool, jobs that outlive a call, replies and previews for the model,
the image card for hosts that render MCP Apps (``card``, its HTML in ``card/``), and what a shared
server's callers read of their own history (``caller_history``).
Not here: the generation itself (``core`` and below), which works the same without MCP.
"""
