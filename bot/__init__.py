"""The service: settings, case store, message pipeline, console, HTTP app and CLI."""
