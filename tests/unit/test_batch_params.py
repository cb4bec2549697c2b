"""How a batch's rows become PostgreSQL parameters: alike columns once, the rest as arrays."""

from __future__ import annotations

from underway.backends.postgres.tx import batch_params, batch_select

TYPES = {"ids": "text", "kinds": "text", "delays": "float8"}


def test_columns_alike_in_every_row_are_sent_once() -> None:
    varying, params = batch_params(TYPES, [("a", "done", 0.0), ("b", "done", 5.0)])
    assert varying == ("ids", "delays")
    assert params == {"ids": ["a", "b"], "kinds": "done", "delays": [0.0, 5.0]}
    assert batch_select(TYPES, varying, numbered=False) == (
        "SELECT v.ids, %(kinds)s::text, v.delays FROM unnest(%(ids)b::text[], "
        "%(delays)b::float8[]) AS v(ids, delays)"
    )


def test_the_key_stays_an_array_so_identical_rows_keep_the_batch_length() -> None:
    varying, params = batch_params(TYPES, [("a", "done", 0.0), ("a", "done", 0.0)])
    assert varying == ("ids",)
    assert params["ids"] == ["a", "a"]


def test_a_single_row_is_all_plain_values() -> None:
    varying, params = batch_params(TYPES, [("a", "done", 0.0)])
    assert varying == ()
    assert params == {"ids": "a", "kinds": "done", "delays": 0.0}
    assert batch_select(TYPES, varying, numbered=True) == (
        "SELECT %(ids)s::text, %(kinds)s::text, %(delays)s::float8, 1 AS n"
    )
