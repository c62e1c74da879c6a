"""A light participant for bench/workshop.py: Streamlit's own websocket protocol, no browser.

It opens a session on a page (a full script run), then moves one slider the way the
browser does: a fragment rerun carrying the slider's new value (a number for a slider,
the option's label for a select slider such as the Lens position). Each move reports the
seconds until the first chart arrived and until the run finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetStates


@dataclass(frozen=True)
class Reply:
    """One script run as the client saw it: seconds to the first chart (None: no chart) and to the end."""

    chart_s: float | None
    done_s: float
    slider_id: str
    fragment_id: str
    options: tuple[str, ...] = ()


class Participant:
    """One browser session, spoken to over the websocket."""

    def __init__(self, url: str, page: str, query: str = "", slider_key: str = "intensity_noise") -> None:
        self.url, self.page, self.query, self.slider_key = url, page, query, slider_key
        self.ws = None
        self.page_hash = ""
        self.slider_id = ""
        self.fragment_id = ""
        self.options: tuple[str, ...] = ()  # a select slider's labels (empty for a numeric slider)
        self.radio = False  # the control is a radio: a move sends the index of its option

    async def open(self, timeout: float = 300.0) -> Reply:
        """Connect and run the page once (what opening the link does)."""
        stream = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(stream, subprotocols=["streamlit"], max_size=None, open_timeout=timeout)
        reply = await self._run(BackMsg(), timeout)
        self.slider_id, self.fragment_id, self.options = reply.slider_id, reply.fragment_id, reply.options
        if not self.slider_id:
            raise LookupError(f"no control with key {self.slider_key!r} on page {self.page!r}")
        return reply

    async def move(self, value: float, timeout: float = 60.0) -> Reply:
        """Set the slider to ``value`` (a select slider or a radio: the option at ``int(value)``, wrapping): a
        rerun of the control's fragment only, as the browser sends it."""
        msg = BackMsg()
        states = WidgetStates()
        widget = states.widgets.add()
        widget.id = self.slider_id
        if self.radio:
            widget.int_value = int(value) % len(self.options)
        elif self.options:
            widget.string_array_value.data.extend([self.options[int(value) % len(self.options)]])
        else:
            widget.double_array_value.data.extend([value])
        msg.rerun_script.widget_states.CopyFrom(states)
        msg.rerun_script.fragment_id = self.fragment_id
        return await self._run(msg, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def _run(self, msg: BackMsg, timeout: float) -> Reply:
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        msg.rerun_script.page_script_hash = self.page_hash
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        chart, slider_id, fragment_id, options = None, self.slider_id, self.fragment_id, self.options
        deadline = start + timeout
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await _recv(self.ws, deadline))
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = fm.new_session.page_script_hash
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                what = element.WhichOneof("type")
                if what == "plotly_chart" and chart is None:
                    chart = time.perf_counter() - start
                elif what in ("slider", "select_slider") and getattr(element, what).id.endswith(self.slider_key):
                    slider_id, fragment_id = getattr(element, what).id, fm.delta.fragment_id
                    if what == "select_slider":
                        options = tuple(element.select_slider.options)
                elif what == "radio" and element.radio.id.endswith(self.slider_key):
                    slider_id, fragment_id = element.radio.id, fm.delta.fragment_id
                    options, self.radio = tuple(element.radio.options), True
            elif kind == "script_finished":
                return Reply(chart, time.perf_counter() - start, slider_id, fragment_id, options)


async def _recv(ws, deadline: float) -> bytes:
    import asyncio

    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError("no reply from the server in time")
    return await asyncio.wait_for(ws.recv(), left)
