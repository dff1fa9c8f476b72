"""Where raw records come from. Every source yields records with a stable source position."""
