"""The Delta lake: table layout and the only module that talks to delta-rs."""
