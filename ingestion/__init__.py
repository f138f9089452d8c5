"""Sources and the pipeline that turns what they send into stored flight states."""
