"""Serving: the page, REST, the MCP tool, the admin side and the server around them."""
