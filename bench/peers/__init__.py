"""One module per peer queue library, each a `System` measured the same way as underway."""
