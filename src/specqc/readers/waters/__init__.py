"""Waters MassLynx .raw folders (MS functions, PDA/UV and analog channels), read with rainbow-api."""
