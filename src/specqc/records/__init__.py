"""The embedded results store and batch-record exports."""
