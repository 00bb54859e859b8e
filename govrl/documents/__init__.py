"""Documents: rendering, the PDF contract, keys, signing and verification."""
