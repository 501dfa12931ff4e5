"""One HTTP/3 request with aioquic, an HTTP/3 implementation independent of
Brink's (quinn + h3). Verifies the server against a CA file. Prints
{"status", "headers", "body" (hex)} as JSON.

    python3 h3_request.py HOST PORT SERVER_NAME CA_FILE METHOD PATH < body
"""

import asyncio
import json
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.waiting = {}
        self.responses = {}

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            if not isinstance(h3_event, (HeadersReceived, DataReceived)):
                continue
            response = self.responses.setdefault(h3_event.stream_id, {"headers": [], "body": b""})
            if isinstance(h3_event, HeadersReceived):
                response["headers"] += h3_event.headers
            else:
                response["body"] += h3_event.data
            if h3_event.stream_ended and h3_event.stream_id in self.waiting:
                self.waiting.pop(h3_event.stream_id).set_result(response)

    async def request(self, method, authority, path, body):
        stream_id = self._quic.get_next_available_stream_id()
        headers = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
        ]
        self.h3.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        answer = asyncio.get_running_loop().create_future()
        self.waiting[stream_id] = answer
        self.transmit()
        return await answer


async def main():
    host, port, server_name, ca_file, method, path = sys.argv[1:7]
    body = sys.stdin.buffer.read()
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=server_name)
    configuration.load_verify_locations(ca_file)
    async with connect(host, int(port), configuration=configuration, create_protocol=Client) as client:
        response = await asyncio.wait_for(client.request(method, server_name, path, body), 30)
    headers = {}
    for name, value in response["headers"]:
        headers.setdefault(name.decode(), []).append(value.decode())
    status = int(headers.pop(":status")[0])
    print(json.dumps({"status": status, "headers": headers, "body": response["body"].hex()}))


asyncio.run(main())
