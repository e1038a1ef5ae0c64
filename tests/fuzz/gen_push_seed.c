/* gen_push_seed.c — writes the push seed corpus: real request bodies made by
 * lf_push_encode (snappy + protobuf, as the agent sends them) and the bare
 * protobuf inside one of them (what lf_push_decode_raw reads).
 *
 * Usage: gen_push_seed OUT_DIR  (run by hand; its output is checked in under
 * corpus/push/, so the corpus does not depend on this program at test time).
 */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>

#include "push.h"

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* A string literal and its length (lines may hold NUL bytes). */
#define LINE(s) s, sizeof(s) - 1

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	static const struct lf_push_kv sm[] = {{"trace_id", "0242ac120002"}, {"pod", "web-1"}};
	static const char nul_line[] = "line with a \0 NUL byte";
	const struct lf_push_entry e1[] = {
	        {1763754190123456789, LINE("level=info msg=\"started\""), NULL, 0},
	        {1763754190123456790, LINE("level=warn msg=\"slow\" took=1.5s"), sm, 2},
	        {0, LINE(""), NULL, 0},
	};
	const struct lf_push_entry e2[] = {
	        {-1500000000, LINE(nul_line), sm, 1},
	        {1763754191000000000, LINE("{\"log\":\"hello\\n\",\"stream\":\"stdout\"}"), NULL,
	         0},
	};
	const struct lf_push_stream streams[] = {
	        {"{job=\"varlogs\", namespace=\"default\"}", e1, 3},
	        {"{app=\"x\\\"y\", container=\"c\"}", e2, 2},
	        {"{}", NULL, 0},
	};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	int rc = 1;
	if (!enc)
		return 1;
	if (lf_push_encode(enc, streams, 3, &out, &err) < 0) {
		fprintf(stderr, "encode: %s\n", err.msg);
		goto done;
	}
	if (write_file(argv[1], "three_streams.snappy", out.data, out.len) < 0)
		goto done;
	/* The protobuf inside, for the raw decoder. */
	size_t ulen;
	if (snappy_uncompressed_length(out.data, out.len, &ulen) != SNAPPY_OK)
		goto done;
	char *raw = malloc(ulen);
	if (!raw || snappy_uncompress(out.data, out.len, raw, &ulen) != SNAPPY_OK ||
	    write_file(argv[1], "three_streams.pb", raw, ulen) < 0) {
		free(raw);
		goto done;
	}
	free(raw);
	if (lf_push_encode(enc, streams, 1, &out, &err) < 0 ||
	    write_file(argv[1], "one_stream.snappy", out.data, out.len) < 0)
		goto done;
	if (lf_push_encode(enc, &streams[2], 1, &out, &err) < 0 ||
	    write_file(argv[1], "stream_without_entries.snappy", out.data, out.len) < 0)
		goto done;
	if (lf_push_encode(enc, NULL, 0, &out, &err) < 0 ||
	    write_file(argv[1], "empty_request.snappy", out.data, out.len) < 0)
		goto done;
	rc = 0;
done:
	lf_buf_free(&out);
	lf_push_encoder_free(enc);
	return rc;
}
