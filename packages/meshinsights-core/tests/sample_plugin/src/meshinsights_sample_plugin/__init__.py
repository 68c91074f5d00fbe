"""A sample third-party plugin package for meshinsights-core's tests."""
