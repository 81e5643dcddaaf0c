"""MCP client side: the servers in config/mcp_servers.yaml, kept connected, their tools cached."""
