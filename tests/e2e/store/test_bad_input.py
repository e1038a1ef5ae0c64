"""Bad push input: each request gets Loki's 4xx and a message naming the
problem; the store stays up and earlier data stays intact."""
import gzip
import json
import socket

from storelib import Env, Store, check, encode_push, now_ns, snappy_literal, _varint

CONFIG = """
distributor:
  max_recv_msg_size: 8MB
"""


def expect(resp, status, needle, what):
    st, body = resp
    text = body.decode("utf-8", "replace")
    check(st == status, "%s: want %d, got %d: %s" % (what, status, st, text[:300]))
    check(needle in text, "%s: message %r lacks %r" % (what, text[:300], needle))


def test_bad_input():
    with Env() as env:
        s = Store(env, CONFIG).start()
        t0 = now_ns()
        good = [(t0 + i, "good line %d" % i) for i in range(20)]
        expect(s.push_proto([('{job="good"}', good)]), 204, "", "good push")

        # malformed protobuf inside a valid snappy block
        expect(s.push_raw(snappy_literal(b"\x0a\xff\xff\xff\xff\x0f"), "application/x-protobuf"),
               400, "protobuf", "malformed protobuf")
        # not snappy at all
        expect(s.push_raw(b"\xff\xff\xff\xff\xff\xff", "application/x-protobuf"), 400,
               "snappy", "garbage body")
        # snappy length header claiming 4 GiB: refused before allocating
        expect(s.push_raw(_varint((4 << 30) - 1) + b"\x00abc", "application/x-protobuf"), 413,
               "too large", "lying snappy length (huge)")
        # snappy length header smaller than the data
        lie = bytearray(snappy_literal(encode_push([('{job="x"}', [(t0, "y" * 100)])])))
        lie[0] = 5
        expect(s.push_raw(bytes(lie), "application/x-protobuf"), 400, "snappy",
               "lying snappy length (small)")
        # invalid UTF-8: JSON body, and a protobuf label value
        body = b'{"streams":[{"stream":{"job":"u"},"values":[["%d","bad \xff\xfe"]]}]}' % t0
        expect(s.push_raw(body, "application/json"), 400, "JSON", "invalid UTF-8 JSON")
        expect(s.push_proto([(b'{job="\xff\xfe"}', [(t0, "x")])]), 400, "UTF-8",
               "invalid UTF-8 label value")
        # 0-byte bodies
        expect(s.push_raw(b"", "application/x-protobuf"), 400, "empty", "empty protobuf body")
        expect(s.push_raw(b"", "application/json"), 400, "empty", "empty JSON body")
        # invalid label names
        expect(s.push_proto([('{my-label="x"}', [(t0, "x")])]), 400, "my-label",
               "label name with '-'")
        expect(s.push_proto([('{1abc="x"}', [(t0, "x")])]), 400, "1abc",
               "label name starting with a digit")
        expect(s.push_json([({"my-label": "x"}, [[str(t0), "x"]])]), 400, "my-label",
               "JSON label name with '-'")
        # too many labels
        many = "{" + ", ".join('l%d="v"' % i for i in range(100)) + "}"
        expect(s.push_proto([(many, [(t0, "x")])]), 400, "has 100 label names; limit 15",
               "100 labels")
        # 1 MB label value
        expect(s.push_proto([('{job="%s"}' % ("v" * (1 << 20)), [(t0, "x")])]), 400,
               "label value too long", "1 MB label value")
        # timestamps 0 and far future
        expect(s.push_proto([('{job="ts"}', [(0, "x")])]), 400, "timestamp too old",
               "timestamp 0")
        expect(s.push_proto([('{job="ts"}', [(t0 + 10 * 365 * 86400 * 10**9, "x")])]), 400,
               "timestamp too new", "far future timestamp")
        # numeric timestamp in JSON
        body = json.dumps({"streams": [{"stream": {"job": "n"}, "values": [[t0, "x"]]}]})
        expect(s.push_raw(body.encode(), "application/json"), 400, "timestamp",
               "numeric JSON timestamp")
        # duplicate labels
        expect(s.push_proto([('{a="1", a="2"}', [(t0, "x")])]), 400,
               "duplicate label name", "duplicate labels")
        # line too long (default max_line_size 256KB)
        expect(s.push_proto([('{job="long"}', [(t0, "x" * 300000)])]), 400,
               "max entry size '256000' bytes exceeded", "line too long")
        # no labels
        expect(s.push_proto([('{}', [(t0, "x")])]), 400, "at least one label pair",
               "empty label set")
        # gzip bomb: 64 MiB of zeros in ~64 KiB, limit 8MB decompressed
        bomb = gzip.compress(b"\0" * (64 << 20), 9)
        expect(s.push_raw(bomb, "application/json", headers={"Content-Encoding": "gzip"}),
               413, "too large", "gzip bomb")
        # unknown content encoding
        expect(s.push_raw(b"x", "application/json", headers={"Content-Encoding": "br"}),
               415, "not supported", "unknown Content-Encoding")
        # raw garbage on the socket: the server answers or closes, and stays up
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"\x00\x01\x02 garbage\r\n\r\n")
            try:
                c.recv(100)
            except OSError:
                pass

        # unsorted labels are fine: stored sorted
        expect(s.push_proto([('{zeta="1", alpha="2"}', [(t0 + 1, "unsorted")])]), 204, "",
               "unsorted labels")
        got = s.entries('{alpha="2"}')
        check(got == [(json.dumps({"alpha": "2", "zeta": "1"}, sort_keys=True), t0 + 1,
                       "unsorted")], "unsorted labels read back: %r" % got)
        # gzip'd JSON that is fine
        body = json.dumps({"streams": [{"stream": {"job": "gz"},
                                        "values": [[str(t0 + 2), "zipped"]]}]}).encode()
        expect(s.push_raw(gzip.compress(body), "application/json",
                          headers={"Content-Encoding": "gzip"}), 204, "", "gzip JSON")
        check([e[2] for e in s.entries('{job="gz"}')] == ["zipped"], "gzip JSON read back")

        # still up, earlier data intact
        check(s.ready(), "store still ready")
        got = s.entries('{job="good"}')
        want = sorted((json.dumps({"job": "good"}), ts, line) for ts, line in good)
        check(got == want, "good data intact: %d of %d" % (len(got), len(want)))
        # bad labels/entries never became streams
        st, body = s.get("/loki/api/v1/label/job/values", {"start": 1})
        vals = json.loads(body)["data"]
        check(vals == ["good", "gz"], "job values: %r" % vals)
        m = s.metrics()
        for reason in ("line_too_long", "greater_than_max_sample_age", "too_far_in_future",
                       "max_label_names_per_series", "label_value_too_long",
                       "duplicate_label_names", "invalid_labels", "missing_labels"):
            check('logferry_store_discarded_samples_total{reason="%s",tenant="fake"}' % reason
                  in m, "metric for reason %s missing" % reason)
        check('logferry_store_lines_received_total{tenant="fake"} 22' in m,
              "lines_received counts accepted lines only")
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_bad_input])
