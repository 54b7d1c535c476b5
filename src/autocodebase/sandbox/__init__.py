"""Containment for commands the model proposes: sandbox modes, bubblewrap, approvals."""
