"""Watch-folder service: finished acquisitions analysed exactly once."""
