"""Chemistry: species properties, ions, side-product derivation, routes."""
