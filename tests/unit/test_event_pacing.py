"""A server-sent event stream sends what changed, or a keep-alive comment after a quiet while."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from underway.web.event_streams import KEEPALIVE_S, Pacer, StreamSettings


def test_a_quiet_stream_gets_one_keep_alive_per_quiet_while_and_changes_go_out_as_they_are() -> (
    None
):
    pacer = Pacer(cast(Request, None), StreamSettings())
    assert pacer.paced([]) == []
    pacer.last_sent -= KEEPALIVE_S + 1
    assert pacer.paced([]) == [": keep-alive\n\n"]
    assert pacer.paced([]) == []
    pacer.last_sent -= KEEPALIVE_S + 1
    assert pacer.paced(["data: x\n\n"]) == ["data: x\n\n"]
    assert pacer.paced([]) == []
