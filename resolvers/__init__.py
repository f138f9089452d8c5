"""Thin resolvers: check arguments, call the repositories and loaders on the context."""
