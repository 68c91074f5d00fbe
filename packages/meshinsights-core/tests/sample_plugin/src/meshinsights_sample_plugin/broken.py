"""A plugin module that fails to import."""

raise ImportError("sample_broken cannot import its backend library")
