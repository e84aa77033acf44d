"""The live stream, `WS /v1/stream`: the stream reader, the hub that fans events out, the
protocol, sessions, resume from history, and the sockets frames reach clients through."""
