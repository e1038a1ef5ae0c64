/* fuzz_chunk.c — the store's chunk files, read back from disk on every
 * query. A chunk on disk can be damaged (bit rot, a torn copy, a tool that
 * edited it); the reader must report, never crash or read out of bounds.
 *
 * Input: byte 0 picks the mode.
 *   even: the rest is a chunk file. lf_chunk_open_mem, then every block is
 *         read and iterated. Properties: a failure carries a message; an
 *         opened chunk's labels and blocks lie inside the input; every
 *         entry's line lies inside the decompressed block.
 *   odd:  the rest is lines ("\n"-separated; a line starting with '#' gets a
 *         structured-metadata pair), encoded into a chunk with codec
 *         (byte0 >> 1) % 4 and 256-byte blocks, then read back. Property:
 *         the same lines, timestamps and metadata counts, in order.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "chunk.h"

static struct lf_chunk_reader rd;

static void read_file_mode(const uint8_t *data, size_t size)
{
	struct lf_error err = {{0}};
	if (lf_chunk_open_mem(data, size, &rd, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0', "open failed without a message");
		return;
	}
	const unsigned char *lo = data, *hi = data + size;
	FUZZ_CHECK((const unsigned char *)rd.labels >= lo &&
	                   (const unsigned char *)rd.labels + rd.labels_len <= hi,
	           "labels outside the input");
	for (uint32_t b = 0; b < rd.n_blocks; b++) {
		struct lf_chunk_block_info bi;
		lf_chunk_block(&rd, b, &bi);
		FUZZ_CHECK(bi.offset + bi.comp_len <= size, "block %u outside the input", b);
		if (lf_chunk_read_block(&rd, b, &err) < 0) {
			FUZZ_CHECK(err.msg[0] != '\0', "block read failed without a message");
			continue;
		}
		FUZZ_CHECK(rd.raw.len == bi.raw_len, "block %u: %zu bytes, index says %u", b,
		           rd.raw.len, bi.raw_len);
		struct lf_chunk_iter it;
		lf_chunk_iter_init(&it, &rd, &bi);
		struct lf_sentry e;
		while (lf_chunk_iter_next(&it, &e) == 1)
			FUZZ_CHECK(e.line >= rd.raw.data &&
			                   e.line + e.line_len <= rd.raw.data + rd.raw.len,
			           "entry line outside block %u", b);
	}
	lf_chunk_close(&rd);
}

static void roundtrip_mode(const uint8_t *data, size_t size, enum lf_chunk_codec codec)
{
	struct lf_buf src = LF_BUF_INIT, out = LF_BUF_INIT;
	size_t n = 0, cap = 0;
	size_t *offs = NULL;
	struct lf_skv kv = {"trace_id", 8, "abc", 3};
	for (size_t p = 0; p <= size;) {
		const uint8_t *nl = memchr(data + p, '\n', size - p);
		size_t end = nl ? (size_t)(nl - data) : size;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			offs = realloc(offs, cap * sizeof(*offs));
			FUZZ_CHECK(offs != NULL, "out of memory");
		}
		offs[n] = src.len;
		bool sm = end > p && data[p] == '#';
		FUZZ_CHECK(lf_entry_put(&src, 1000 + 7 * (int64_t)n, (const char *)data + p,
		                        end - p, &kv, sm ? 1 : 0) == 0,
		           "out of memory");
		n++;
		p = end + 1;
	}
	struct lf_sentry *es = calloc(n, sizeof(*es));
	FUZZ_CHECK(es != NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct lf_rd r = {(const unsigned char *)src.data + offs[i],
		                  (const unsigned char *)src.data + src.len, 0};
		FUZZ_CHECK(lf_entry_next(&r, &es[i]) == 0, "entry %zu unreadable", i);
	}
	struct lf_chunk_info info;
	struct lf_error err = {{0}};
	FUZZ_CHECK(lf_chunk_encode("{job=\"fuzz\"}", es, n, 256, codec, &out, &info, &err) == 0,
	           "encode failed: %s", err.msg);
	FUZZ_CHECK(lf_chunk_open_mem(out.data, out.len, &rd, &err) == 0, "reopen failed: %s",
	           err.msg);
	FUZZ_CHECK(rd.codec == codec, "codec %d read back as %d", (int)codec, (int)rd.codec);
	size_t k = 0;
	for (uint32_t b = 0; b < rd.n_blocks; b++) {
		struct lf_chunk_block_info bi;
		lf_chunk_block(&rd, b, &bi);
		FUZZ_CHECK(lf_chunk_read_block(&rd, b, &err) == 0, "block %u: %s", b, err.msg);
		struct lf_chunk_iter it;
		lf_chunk_iter_init(&it, &rd, &bi);
		struct lf_sentry e;
		int rc;
		while ((rc = lf_chunk_iter_next(&it, &e)) == 1) {
			FUZZ_CHECK(k < n, "more entries than written");
			FUZZ_CHECK(e.ts == es[k].ts, "entry %zu: ts %lld, want %lld", k,
			           (long long)e.ts, (long long)es[k].ts);
			FUZZ_CHECK(e.line_len == es[k].line_len &&
			                   memcmp(e.line, es[k].line, e.line_len) == 0,
			           "entry %zu: line differs", k);
			FUZZ_CHECK(e.n_sm == es[k].n_sm, "entry %zu: metadata count differs", k);
			k++;
		}
		FUZZ_CHECK(rc == 0, "block %u: malformed entry", b);
	}
	FUZZ_CHECK(k == n, "read %zu entries, wrote %zu", k, n);
	lf_chunk_close(&rd);
	free(es);
	free(offs);
	lf_buf_free(&src);
	lf_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		read_file_mode(data + 1, size - 1);
	else
		roundtrip_mode(data + 1, size - 1, (enum lf_chunk_codec)((data[0] >> 1) % 4));
	return 0;
}
