"""The embedded sample store and the types every part shares."""
