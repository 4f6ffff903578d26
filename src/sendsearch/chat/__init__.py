"""Replies to chat messages: follow-ups, key points, rendering."""
