"""wslib — a minimal RFC 6455 websocket client (Python stdlib only) for the
store's /loki/api/v1/tail: handshake (checks Sec-WebSocket-Accept), masked
client frames, reading text/ping/close frames with deadlines."""
import base64
import hashlib
import json
import os
import socket
import struct
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WSClosed(Exception):
    def __init__(self, code, reason):
        super().__init__("closed %s %r" % (code, reason))
        self.code = code
        self.reason = reason


class HandshakeError(Exception):
    def __init__(self, status, body):
        super().__init__("handshake failed: %s %r" % (status, body))
        self.status = status
        self.body = body


class WS:
    def __init__(self, port, path, params=None, headers=None, rcvbuf=None, timeout=30,
                 early=b""):
        """early: bytes sent in the same write as the handshake request."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        if params:
            path += "?" + urllib.parse.urlencode(params)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port,
               "Upgrade: websocket", "Connection: Upgrade",
               "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            req.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode() + early)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise HandshakeError(0, self.buf)
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                d = self.sock.recv(65536)
                if not d:
                    break
                self.buf += d
            self.sock.close()
            raise HandshakeError(status, self.buf)
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if self.headers.get("sec-websocket-accept") != want:
            raise AssertionError("bad Sec-WebSocket-Accept %r (want %r)" % (
                self.headers.get("sec-websocket-accept"), want))
        self.pings = 0
        self.closed = None

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no websocket data before the deadline")
            self.sock.settimeout(left)
            d = self.sock.recv(1 << 20)
            if not d:
                raise ConnectionError("connection closed without a close frame")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self, timeout=30):
        """Next frame: (opcode, fin, payload). Server frames must be unmasked."""
        deadline = time.monotonic() + timeout
        h = self._read(2, deadline)
        fin, op = h[0] >> 7, h[0] & 15
        if h[1] & 0x80:
            raise AssertionError("server frame is masked")
        if h[0] & 0x70:
            raise AssertionError("server frame has RSV bits")
        n = h[1] & 127
        if n == 126:
            n = struct.unpack(">H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8, deadline))[0]
        return op, fin, self._read(n, deadline)

    @staticmethod
    def encode(op, payload=b"", fin=True, mask=True):
        """A client frame (masked unless told otherwise)."""
        b0 = (0x80 if fin else 0) | op
        n = len(payload)
        if n < 126:
            hdr = bytes([b0, (0x80 if mask else 0) | n])
        elif n < 65536:
            hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
        else:
            hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
        if mask:
            m = os.urandom(4)
            payload = bytes(c ^ m[i & 3] for i, c in enumerate(payload))
            hdr += m
        return hdr + payload

    def send(self, op, payload=b"", fin=True, mask=True):
        self.sock.sendall(self.encode(op, payload, fin, mask))

    def message(self, timeout=30):
        """Next JSON text message; answers pings; raises WSClosed on close."""
        deadline = time.monotonic() + timeout
        while True:
            op, fin, p = self.frame(max(0.01, deadline - time.monotonic()))
            if op == 9:
                self.pings += 1
                self.send(10, p)
                continue
            if op == 10:
                continue
            if op == 8:
                code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                self.closed = (code, p[2:].decode())
                raise WSClosed(code, p[2:].decode())
            if op == 1:
                if not fin:
                    raise AssertionError("server fragments its frames")
                return json.loads(p)
            raise AssertionError("unexpected opcode %d" % op)

    def entries(self, want, timeout=60, frames=None, dropped=None):
        """Reads frames until `want` stream entries arrived: list of (labels, ts, line)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("got %d of %d entries: %r" % (len(out), want, out[-5:]))
            m = self.message(left)
            if frames is not None:
                frames.append(m)
            if dropped is not None:
                dropped.extend(m.get("dropped_entries", []))
            for s in m.get("streams", []):
                for ts, line in s["values"]:
                    out.append((s["stream"], int(ts), line))
        return out

    def close(self, code=1000, reason=b""):
        """Sends close; returns the code of the server's answer."""
        self.send(8, struct.pack(">H", code) + reason)
        deadline = time.monotonic() + 30
        while True:
            op, _, p = self.frame(max(0.01, deadline - time.monotonic()))
            if op == 8:
                self.closed = (struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None,
                               p[2:].decode())
                break
        # the server then closes the TCP connection
        self.sock.settimeout(30)
        rest = self.sock.recv(1)
        self.sock.close()
        return self.closed[0], rest

    def abort(self):
        self.sock.close()
