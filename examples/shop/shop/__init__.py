"""A shop that hands its slow work to underway."""
