"""The reasoning path: an agent loop of structured steps and MCP tool calls, then a streamed answer."""
