"""The relay wing: one HTTP call to the relay, from building it to the events it answered with.

Belongs here: request bodies, HTTP, encodings, SSE, payload extraction, event and failure reading.
Not here: image files and pixels (``images/``), settings (``config``), anything MCP or CLI.
"""
