"""The edit engine: parse what the model wrote, find where it meant, apply all or nothing."""
