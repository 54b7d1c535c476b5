"""What the model is shown about the project: AGENTS.md instructions, later the repo map."""
