"""The agents the bridge plugs into: how ``image-relay-setup --register`` adds the MCP server to each
(Claude Code, Codex, Gemini CLI, Qwen Code, opencode, Copilot CLI) and which of them started a
running server. Not here: the server itself, the setup dialogue, the manifests (repository root).
"""
