"""Core's built-in plugins, loaded like any installed plugin."""
