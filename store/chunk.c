/* chunk.c — see chunk.h. */
#include "chunk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "crc32c.h"

static const char MAGIC[8] = {'L', 'F', 'C', 'H', 'U', 'N', 'K', 0};
static const char END_MAGIC[8] = {'L', 'F', 'C', 'H', 'K', 'E', 'N', 'D'};
#define IDX_ENTRY 40
#define FOOTER    24
/* No block the store writes comes near this: a block holds chunk_block_size
 * bytes plus at most one entry, and entries are bounded by the push size. */
#define MAX_RAW_BLOCK (1u << 30)
#define HDR_V1        16 /* magic, version, labels_len */
#define HDR_V2        20 /* magic, version, codec, labels_len */

int lf_chunk_codec_parse(const char *name, enum lf_chunk_codec *out, struct lf_error *err)
{
	if (!strcmp(name, "none"))
		*out = LF_CHUNK_NONE;
	else if (!strcmp(name, "snappy"))
		*out = LF_CHUNK_SNAPPY;
	else if (!strcmp(name, "lz4") || !strcmp(name, "lz4-64k") || !strcmp(name, "lz4-256k") ||
	         !strcmp(name, "lz4-1M") || !strcmp(name, "lz4-4M"))
		*out = LF_CHUNK_LZ4;
	else if (!strcmp(name, "gzip") || !strcmp(name, "flate"))
		*out = LF_CHUNK_GZIP;
	else
		return lf_err(err,
		              "chunk encoding \"%s\" is not supported (supported: none, snappy, "
		              "lz4, lz4-64k, lz4-256k, lz4-1M, lz4-4M, gzip, flate)",
		              name);
	return 0;
}

const char *lf_chunk_codec_name(enum lf_chunk_codec c)
{
	switch (c) {
	case LF_CHUNK_NONE:
		return "none";
	case LF_CHUNK_SNAPPY:
		return "snappy";
	case LF_CHUNK_LZ4:
		return "lz4";
	case LF_CHUNK_GZIP:
		return "gzip";
	}
	return "unknown";
}

/* Upper bound of codec(raw) for n raw bytes; 0 if n is too large. */
static size_t max_compressed(enum lf_chunk_codec codec, size_t n)
{
	switch (codec) {
	case LF_CHUNK_SNAPPY:
		return snappy_max_compressed_length(n);
	case LF_CHUNK_LZ4:
		return n > LZ4_MAX_INPUT_SIZE ? 0 : (size_t)LZ4_compressBound((int)n);
	case LF_CHUNK_GZIP:
		return compressBound((uLong)n);
	case LF_CHUNK_NONE:
		break;
	}
	return n;
}

/* Compresses raw into dst (room for max_compressed bytes); sets *clen. */
static int compress_block(enum lf_chunk_codec codec, const char *raw, size_t n, char *dst,
                          size_t cap, size_t *clen, struct lf_error *err)
{
	switch (codec) {
	case LF_CHUNK_SNAPPY:
		*clen = cap;
		if (snappy_compress(raw, n, dst, clen) != SNAPPY_OK)
			return lf_err(err, "chunk: snappy compression failed");
		return 0;
	case LF_CHUNK_LZ4: {
		int k = LZ4_compress_default(raw, dst, (int)n, (int)cap);
		if (k <= 0)
			return lf_err(err, "chunk: lz4 compression failed");
		*clen = (size_t)k;
		return 0;
	}
	case LF_CHUNK_GZIP: {
		uLongf k = (uLongf)cap;
		if (compress2((Bytef *)dst, &k, (const Bytef *)raw, (uLong)n,
		              Z_DEFAULT_COMPRESSION) != Z_OK)
			return lf_err(err, "chunk: zlib compression failed");
		*clen = (size_t)k;
		return 0;
	}
	case LF_CHUNK_NONE:
		break;
	}
	memcpy(dst, raw, n);
	*clen = n;
	return 0;
}

size_t lf_chunk_max_compressed(enum lf_chunk_codec codec, size_t n)
{
	return max_compressed(codec, n);
}

int lf_chunk_compress(enum lf_chunk_codec codec, const char *raw, size_t n, char *dst, size_t cap,
                      size_t *clen, struct lf_error *err)
{
	return compress_block(codec, raw, n, dst, cap, clen, err);
}

static int flush_block(struct lf_buf *raw, enum lf_chunk_codec codec, struct lf_buf *out,
                       struct lf_buf *index, uint32_t n_entries, int64_t min_ts, int64_t max_ts,
                       struct lf_error *err)
{
	size_t max = max_compressed(codec, raw->len);
	if (!max || lf_buf_reserve(out, max) < 0 || lf_buf_reserve(index, IDX_ENTRY) < 0)
		return lf_err(err, "chunk: out of memory for a %zu-byte block", raw->len);
	size_t clen = 0;
	uint64_t off = out->len;
	if (compress_block(codec, raw->data, raw->len, out->data + out->len, max, &clen, err) < 0)
		return -1;
	unsigned char *e = (unsigned char *)index->data + index->len;
	lf_put_le64(e, off);
	lf_put_le32(e + 8, (uint32_t)clen);
	lf_put_le32(e + 12, (uint32_t)raw->len);
	lf_put_le32(e + 16, n_entries);
	lf_put_le32(e + 20, lf_crc32c(0, out->data + off, clen));
	lf_put_le64(e + 24, (uint64_t)min_ts);
	lf_put_le64(e + 32, (uint64_t)max_ts);
	index->len += IDX_ENTRY;
	out->len += clen;
	lf_buf_reset(raw);
	return 0;
}

int lf_chunk_encode(const char *labels, const struct lf_sentry *entries, size_t n,
                    size_t block_size, enum lf_chunk_codec codec, struct lf_buf *out,
                    struct lf_chunk_info *info, struct lf_error *err)
{
	struct lf_buf raw = LF_BUF_INIT, index = LF_BUF_INIT;
	int rc = -1;
	size_t llen = strlen(labels);
	memset(info, 0, sizeof(*info));
	lf_buf_reset(out);
	unsigned char hdr[HDR_V2];
	memcpy(hdr, MAGIC, 8);
	lf_put_le32(hdr + 8, LF_CHUNK_VERSION);
	lf_put_le32(hdr + 12, (uint32_t)codec);
	lf_put_le32(hdr + 16, (uint32_t)llen);
	if (lf_buf_append(out, hdr, HDR_V2) < 0 || lf_buf_append(out, labels, llen) < 0)
		goto oom;
	if (block_size < 1024)
		block_size = 1024;
	/* Size the buffers once: grown by doubling, they would copy about as
	 * much as they end up holding. */
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += 30 + entries[i].line_len + (size_t)(entries[i].sm_end - entries[i].sm);
	size_t first_block = total < block_size ? total : block_size;
	if (lf_buf_reserve(&raw, first_block + 64 * 1024) < 0 ||
	    lf_buf_reserve(out, max_compressed(codec, total) + 64 * 1024) < 0)
		goto oom;
	uint32_t in_block = 0;
	int64_t bmin = 0, prev = 0;
	for (size_t i = 0; i < n; i++) {
		const struct lf_sentry *e = &entries[i];
		if (in_block == 0) {
			bmin = e->ts;
			prev = e->ts;
		}
		size_t smlen = (size_t)(e->sm_end - e->sm);
		if (lf_buf_reserve(&raw, 30 + e->line_len + smlen) < 0)
			goto oom;
		unsigned char *p = (unsigned char *)raw.data + raw.len;
		p += lf_put_uvarint(p, lf_zigzag(e->ts - prev));
		p += lf_put_uvarint(p, e->line_len);
		memcpy(p, e->line, e->line_len);
		p += e->line_len;
		p += lf_put_uvarint(p, e->n_sm);
		if (smlen)
			memcpy(p, e->sm, smlen);
		p += smlen;
		raw.len = (size_t)((char *)p - raw.data);
		prev = e->ts;
		in_block++;
		info->raw_bytes += e->line_len + smlen;
		if (raw.len >= block_size) {
			if (flush_block(&raw, codec, out, &index, in_block, bmin, prev, err) < 0)
				goto done;
			info->blocks++;
			in_block = 0;
		}
	}
	if (in_block) {
		if (flush_block(&raw, codec, out, &index, in_block, bmin, prev, err) < 0)
			goto done;
		info->blocks++;
	}
	uint64_t index_off = out->len;
	unsigned char foot[FOOTER];
	lf_put_le64(foot, index_off);
	lf_put_le32(foot + 8, info->blocks);
	lf_put_le32(foot + 12, lf_crc32c(0, index.data, index.len));
	memcpy(foot + 16, END_MAGIC, 8);
	if (lf_buf_append(out, index.data, index.len) < 0 || lf_buf_append(out, foot, FOOTER) < 0)
		goto oom;
	info->entries = n;
	info->from = n ? entries[0].ts : 0;
	info->through = n ? entries[n - 1].ts : 0;
	info->file_bytes = out->len;
	rc = 0;
	goto done;
oom:
	lf_err(err, "chunk: out of memory");
done:
	lf_buf_free(&raw);
	lf_buf_free(&index);
	return rc;
}

int lf_chunk_assemble(const char *labels, const struct lf_chunk_pre *blocks, size_t n,
                      enum lf_chunk_codec codec, struct lf_buf *out, struct lf_chunk_info *info,
                      struct lf_error *err)
{
	size_t llen = strlen(labels), total = HDR_V2 + llen + FOOTER + n * IDX_ENTRY;
	memset(info, 0, sizeof(*info));
	lf_buf_reset(out);
	for (size_t i = 0; i < n; i++)
		total += blocks[i].comp_len;
	if (lf_buf_reserve(out, total) < 0)
		return lf_err(err, "chunk: out of memory for %zu bytes", total);
	unsigned char *p = (unsigned char *)out->data;
	memcpy(p, MAGIC, 8);
	lf_put_le32(p + 8, LF_CHUNK_VERSION);
	lf_put_le32(p + 12, (uint32_t)codec);
	lf_put_le32(p + 16, (uint32_t)llen);
	memcpy(p + HDR_V2, labels, llen);
	size_t off = HDR_V2 + llen;
	for (size_t i = 0; i < n; i++) {
		memcpy(p + off, blocks[i].data, blocks[i].comp_len);
		off += blocks[i].comp_len;
	}
	uint64_t index_off = off, boff = HDR_V2 + llen;
	for (size_t i = 0; i < n; i++) {
		const struct lf_chunk_pre *b = &blocks[i];
		unsigned char *e = p + off;
		lf_put_le64(e, boff);
		lf_put_le32(e + 8, b->comp_len);
		lf_put_le32(e + 12, b->raw_len);
		lf_put_le32(e + 16, b->entries);
		lf_put_le32(e + 20, b->crc);
		lf_put_le64(e + 24, (uint64_t)b->min_ts);
		lf_put_le64(e + 32, (uint64_t)b->max_ts);
		boff += b->comp_len;
		off += IDX_ENTRY;
		info->entries += b->entries;
		info->raw_bytes += b->line_bytes;
	}
	lf_put_le64(p + off, index_off);
	lf_put_le32(p + off + 8, (uint32_t)n);
	lf_put_le32(p + off + 12, lf_crc32c(0, p + index_off, n * IDX_ENTRY));
	memcpy(p + off + 16, END_MAGIC, 8);
	off += FOOTER;
	out->len = off;
	out->data[off] = 0;
	info->blocks = (uint32_t)n;
	info->from = n ? blocks[0].min_ts : 0;
	info->through = n ? blocks[n - 1].max_ts : 0;
	info->file_bytes = off;
	return 0;
}

static int decompress_block(enum lf_chunk_codec codec, const char *c, uint32_t clen, char *dst,
                            uint32_t raw_len);

int lf_chunk_decompress(enum lf_chunk_codec codec, const void *comp, uint32_t comp_len, char *dst,
                        uint32_t raw_len)
{
	return decompress_block(codec, comp, comp_len, dst, raw_len);
}

int lf_chunk_write_tmp(const char *dir, const char *name, const void *data, size_t len, int *fd_out,
                       struct lf_error *err)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	*fd_out = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lf_err(err, "chunk: create %s: %s", tmp, strerror(errno));
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t k = write(fd, p, left);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			unlink(tmp);
			return lf_err(err, "chunk: write %s: %s", tmp, strerror(e));
		}
		p += k;
		left -= (size_t)k;
	}
	*fd_out = fd;
	return 0;
}

int lf_chunk_commit_tmp(const char *dir, const char *name, int fd, struct lf_error *err)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return lf_err(err, "chunk: fsync %s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, dst) < 0) {
		int e = errno;
		unlink(tmp);
		return lf_err(err, "chunk: rename %s -> %s: %s", tmp, dst, strerror(e));
	}
	return 0;
}

int lf_chunk_sync_fs(int fd, const char *what, struct lf_error *err)
{
	if (syncfs(fd) < 0)
		return lf_err(err, "chunk: syncfs (%s): %s", what, strerror(errno));
	return 0;
}

int lf_chunk_rename_tmp(const char *dir, const char *name, struct lf_error *err)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (rename(tmp, dst) < 0) {
		int e = errno;
		unlink(tmp);
		return lf_err(err, "chunk: rename %s -> %s: %s", tmp, dst, strerror(e));
	}
	return 0;
}

int lf_chunk_write_file(const char *dir, const char *name, const void *data, size_t len,
                        struct lf_error *err)
{
	int fd;
	if (lf_chunk_write_tmp(dir, name, data, len, &fd, err) < 0)
		return -1;
	return lf_chunk_commit_tmp(dir, name, fd, err);
}

int lf_chunk_sync_dir(const char *dir, struct lf_error *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lf_err(err, "chunk: open %s: %s", dir, strerror(errno));
	int rc = fsync(dfd);
	int e = errno;
	close(dfd);
	if (rc < 0)
		return lf_err(err, "chunk: fsync %s: %s", dir, strerror(e));
	return 0;
}

int lf_chunk_open_mem(const void *data, size_t len, struct lf_chunk_reader *r, struct lf_error *err)
{
	const unsigned char *m = data;
	memset(r, 0, sizeof(*r));
	if (len < HDR_V2 + FOOTER || memcmp(m, MAGIC, 8) != 0)
		return lf_err(err, "bad chunk header");
	uint32_t ver = lf_get_le32(m + 8);
	size_t hdr;
	uint32_t codec, llen;
	if (ver == 1) {
		hdr = HDR_V1;
		codec = LF_CHUNK_SNAPPY;
		llen = lf_get_le32(m + 12);
	} else if (ver == 2) {
		hdr = HDR_V2;
		codec = lf_get_le32(m + 12);
		llen = lf_get_le32(m + 16);
		if (codec > LF_CHUNK_GZIP)
			return lf_err(err, "unknown chunk codec %u", codec);
	} else {
		return lf_err(err, "unsupported chunk version %u", ver);
	}
	if (llen > len - hdr - FOOTER)
		return lf_err(err, "bad chunk labels length %u", llen);
	const unsigned char *f = m + len - FOOTER;
	if (memcmp(f + 16, END_MAGIC, 8) != 0)
		return lf_err(err, "bad chunk footer");
	uint64_t ioff = lf_get_le64(f);
	uint32_t nb = lf_get_le32(f + 8);
	uint32_t icrc = lf_get_le32(f + 12);
	if (ioff < hdr + (uint64_t)llen || ioff > len - FOOTER ||
	    (uint64_t)nb * IDX_ENTRY != len - FOOTER - ioff)
		return lf_err(err, "bad chunk index offset %llu for %u blocks",
		              (unsigned long long)ioff, nb);
	if (lf_crc32c(0, m + ioff, (size_t)nb * IDX_ENTRY) != icrc)
		return lf_err(err, "chunk index checksum mismatch");
	for (uint32_t i = 0; i < nb; i++) {
		const unsigned char *e = m + ioff + (size_t)i * IDX_ENTRY;
		uint64_t off = lf_get_le64(e);
		uint32_t cl = lf_get_le32(e + 8);
		if (off < hdr + llen || off > ioff || cl > ioff - off)
			return lf_err(err, "chunk block %u out of bounds", i);
	}
	r->map = m;
	r->size = len;
	r->labels = (const char *)m + hdr;
	r->labels_len = llen;
	r->codec = (enum lf_chunk_codec)codec;
	r->n_blocks = nb;
	r->index = m + ioff;
	return 0;
}

int lf_chunk_open(const char *path, struct lf_chunk_reader *r, struct lf_error *err)
{
	memset(r, 0, sizeof(*r));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err(err, "chunk %s: open: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || sb.st_size == 0) {
		close(fd);
		return lf_err(err, "chunk %s: empty or unreadable", path);
	}
	void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return lf_err(err, "chunk %s: mmap: %s", path, strerror(errno));
	if (lf_chunk_open_mem(m, (size_t)sb.st_size, r, err) < 0) {
		munmap(m, (size_t)sb.st_size);
		memset(r, 0, sizeof(*r));
		return lf_err_prefix(err, "chunk %s", path);
	}
	r->owned_map = 1;
	return 0;
}

void lf_chunk_block(const struct lf_chunk_reader *r, uint32_t i, struct lf_chunk_block_info *bi)
{
	const unsigned char *e = r->index + (size_t)i * IDX_ENTRY;
	bi->offset = lf_get_le64(e);
	bi->comp_len = lf_get_le32(e + 8);
	bi->raw_len = lf_get_le32(e + 12);
	bi->entries = lf_get_le32(e + 16);
	bi->crc = lf_get_le32(e + 20);
	bi->min_ts = (int64_t)lf_get_le64(e + 24);
	bi->max_ts = (int64_t)lf_get_le64(e + 32);
}

/* Decompresses exactly raw_len bytes; -1 if the data does not decode to
 * that many. Every codec is bounded by raw_len (from the checksummed index),
 * so a lying block cannot make it write past dst. */
static int decompress_block(enum lf_chunk_codec codec, const char *c, uint32_t clen, char *dst,
                            uint32_t raw_len)
{
	switch (codec) {
	case LF_CHUNK_SNAPPY: {
		size_t ulen = 0;
		if (snappy_uncompressed_length(c, clen, &ulen) != SNAPPY_OK || ulen != raw_len)
			return -1;
		return snappy_uncompress(c, clen, dst, &ulen) == SNAPPY_OK && ulen == raw_len ? 0
		                                                                              : -1;
	}
	case LF_CHUNK_LZ4:
		if (clen > INT_MAX || raw_len > INT_MAX)
			return -1;
		return LZ4_decompress_safe(c, dst, (int)clen, (int)raw_len) == (int)raw_len ? 0
		                                                                            : -1;
	case LF_CHUNK_GZIP: {
		uLongf ulen = raw_len;
		return uncompress((Bytef *)dst, &ulen, (const Bytef *)c, clen) == Z_OK &&
		                       ulen == raw_len
		               ? 0
		               : -1;
	}
	case LF_CHUNK_NONE:
		if (clen != raw_len)
			return -1;
		memcpy(dst, c, clen);
		return 0;
	}
	return -1;
}

int lf_chunk_read_block(struct lf_chunk_reader *r, uint32_t i, struct lf_error *err)
{
	struct lf_chunk_block_info bi;
	lf_chunk_block(r, i, &bi);
	const char *c = (const char *)r->map + bi.offset;
	if (lf_crc32c(0, c, bi.comp_len) != bi.crc)
		return lf_err(err, "block %u at offset %llu: checksum mismatch", i,
		              (unsigned long long)bi.offset);
	if (bi.raw_len > MAX_RAW_BLOCK)
		return lf_err(err, "block %u at offset %llu: implausible size %u", i,
		              (unsigned long long)bi.offset, bi.raw_len);
	lf_buf_reset(&r->raw);
	if (lf_buf_reserve(&r->raw, (size_t)bi.raw_len + 1) < 0)
		return lf_err(err, "block %u: out of memory", i);
	if (decompress_block(r->codec, c, bi.comp_len, r->raw.data, bi.raw_len) < 0)
		return lf_err(err, "block %u at offset %llu: %s data corrupt", i,
		              (unsigned long long)bi.offset, lf_chunk_codec_name(r->codec));
	size_t ulen = bi.raw_len;
	r->raw.len = ulen;
	r->raw.data[ulen] = 0;
	return 0;
}

void lf_chunk_close(struct lf_chunk_reader *r)
{
	lf_buf_free(&r->raw);
	if (r->owned_map && r->map)
		munmap((void *)r->map, r->size);
	memset(r, 0, sizeof(*r));
}
