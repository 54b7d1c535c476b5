"""The agent: the loop, its events and its prompts."""
