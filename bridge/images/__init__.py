"""The images wing: image bytes and files, knowing nothing of relays or HTTP.

Belongs here: file names and atomic writes, whole-image checks, format sniffing, Pillow, base64,
masks painted in a browser kept as files.
Not here: where the bytes came from (``relay/``) or what the model is told (``server/``).
"""
