"""Report builders: the JSON document of REPORT-CONTRACT.md and the terminal view."""
