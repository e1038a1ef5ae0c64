/* chunk.h — the on-disk chunk: one stream's entries for a time range.
 *
 * Layout (all integers little-endian):
 *   header  v2: "LFCHUNK\0" | u32 version (2) | u32 codec | u32 labels_len |
 *           labels text. v1 (still read): no codec field, blocks are snappy.
 *   blocks  codec(raw block), one after another; a raw block is entries
 *           sorted by time: zigzag varint ts delta (first: delta to the
 *           block's min_ts), varint line length + line, varint metadata
 *           count + (varint len + name, varint len + value) pairs
 *   index   per block 40 bytes: u64 offset | u32 compressed_len |
 *           u32 raw_len | u32 entries | u32 crc32c(compressed) |
 *           i64 min_ts | i64 max_ts
 *   footer  u64 index_offset | u32 blocks | u32 crc32c(index) | "LFCHKEND"
 * A reader finds the footer at the end, checks the index checksum, and
 * checks each block's checksum when it decompresses it, so a flipped byte
 * costs one block (reported), not the chunk.
 *
 * Writing is atomic: temp file, write, fsync, rename, then the caller
 * fsyncs the directory (lf_chunk_sync_dir).
 *
 * Block codecs (Loki's `ingester.chunk_encoding` names): none, snappy, lz4
 * (the default), gzip. lz4 is the default because a filter query spends
 * most of its CPU decompressing blocks, and on log text lz4 decompresses
 * about 3.5x faster than snappy for a ~7% larger file (bench/RESULTS.md).
 */
#ifndef LF_STORE_CHUNK_H
#define LF_STORE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "error.h"

#define LF_CHUNK_VERSION 2

enum lf_chunk_codec {
	LF_CHUNK_NONE = 0,
	LF_CHUNK_SNAPPY = 1,
	LF_CHUNK_LZ4 = 2,
	LF_CHUNK_GZIP = 3,
};

/* Parses a Loki chunk_encoding name ("lz4-256k" and the other lz4 sizes
 * mean lz4: block sizes are chunk_block_size here). -1 with a message that
 * lists the supported names. */
int lf_chunk_codec_parse(const char *name, enum lf_chunk_codec *out, struct lf_error *err);
const char *lf_chunk_codec_name(enum lf_chunk_codec c);

struct lf_chunk_info {
	int64_t from, through; /* min / max entry ts */
	uint64_t entries;
	uint64_t raw_bytes;  /* uncompressed entry bytes */
	uint64_t file_bytes; /* size on disk */
	uint32_t blocks;
};

/* Encodes entries (sorted by ts; the caller sorts) into out. block_size is
 * the raw bytes per block. Entries' sm/sm_end must be encoded pairs as in
 * codec.h. */
int lf_chunk_encode(const char *labels, const struct lf_sentry *entries, size_t n,
                    size_t block_size, enum lf_chunk_codec codec, struct lf_buf *out,
                    struct lf_chunk_info *info, struct lf_error *err);
/* Block codec primitives, shared with the compressed head blocks (head.h).
 * lf_chunk_max_compressed: bound of codec(n bytes), 0 when n is too large;
 * lf_chunk_compress: dst has room for that bound, *clen set; -1 with a
 * message; lf_chunk_decompress: exactly raw_len bytes into dst, -1 when the
 * data is corrupt or not that long. */
size_t lf_chunk_max_compressed(enum lf_chunk_codec codec, size_t n);
int lf_chunk_compress(enum lf_chunk_codec codec, const char *raw, size_t n, char *dst, size_t cap,
                      size_t *clen, struct lf_error *err);
int lf_chunk_decompress(enum lf_chunk_codec codec, const void *comp, uint32_t comp_len, char *dst,
                        uint32_t raw_len);

/* A block already compressed with the chunk's codec: raw entries in the
 * block format above, sorted by ts, the first delta relative to min_ts. */
struct lf_chunk_pre {
	const void *data;
	uint32_t comp_len, raw_len, entries, crc; /* crc32c(data) */
	int64_t min_ts, max_ts;
	uint64_t line_bytes; /* line + metadata bytes (lf_chunk_info.raw_bytes) */
};
/* Builds a chunk from compressed blocks (in time order, not overlapping),
 * copying them: a head whose sealed blocks are sorted becomes a chunk
 * without decompressing or compressing anything again. */
int lf_chunk_assemble(const char *labels, const struct lf_chunk_pre *blocks, size_t n,
                      enum lf_chunk_codec codec, struct lf_buf *out, struct lf_chunk_info *info,
                      struct lf_error *err);
/* Writes data to dir/name atomically (dir/.name.tmp, fsync, rename). The
 * rename is durable once lf_chunk_sync_dir(dir) returns. Same as
 * lf_chunk_write_tmp followed by lf_chunk_commit_tmp. */
int lf_chunk_write_file(const char *dir, const char *name, const void *data, size_t len,
                        struct lf_error *err);
/* The two halves of lf_chunk_write_file, for writing many chunks with few
 * journal commits: write every file of a batch first (*fd_out stays open),
 * then commit each. On ext4 (data=ordered) the first fsync commits the data
 * and metadata of every file written before it, so the later ones find
 * little left to do: a batch of N small chunks costs about one commit, not
 * N. On failure the temp file is removed and no fd is left open. */
int lf_chunk_write_tmp(const char *dir, const char *name, const void *data, size_t len, int *fd_out,
                       struct lf_error *err);
/* fsync(fd), close(fd), rename dir/.name.tmp -> dir/name. fd is closed and
 * the temp file removed on failure too. */
int lf_chunk_commit_tmp(const char *dir, const char *name, int fd, struct lf_error *err);
/* For batches: syncfs(2) on the file system holding fd (every file written
 * before it is then durable), and the rename of dir/.name.tmp -> dir/name. */
int lf_chunk_sync_fs(int fd, const char *what, struct lf_error *err);
int lf_chunk_rename_tmp(const char *dir, const char *name, struct lf_error *err);
int lf_chunk_sync_dir(const char *dir, struct lf_error *err);

struct lf_chunk_block_info {
	uint64_t offset;
	uint32_t comp_len, raw_len, entries, crc;
	int64_t min_ts, max_ts;
};

/* A read-only mapping of a chunk file plus a reusable decompression buffer. */
struct lf_chunk_reader {
	const unsigned char *map;
	size_t size;
	const char *labels;
	size_t labels_len;
	enum lf_chunk_codec codec;
	uint32_t n_blocks;
	const unsigned char *index;
	struct lf_buf raw; /* last decompressed block */
	int owned_map;     /* set by lf_chunk_open: close unmaps */
};

/* Maps path and checks header, footer and index checksum. On error the
 * message names the file and what is wrong. */
int lf_chunk_open(const char *path, struct lf_chunk_reader *r, struct lf_error *err);
/* Same over memory (no mapping; r borrows data). */
int lf_chunk_open_mem(const void *data, size_t len, struct lf_chunk_reader *r,
                      struct lf_error *err);
void lf_chunk_block(const struct lf_chunk_reader *r, uint32_t i, struct lf_chunk_block_info *bi);
/* Verifies and decompresses block i into r->raw. -1 on checksum mismatch or
 * a bad block (message names the block and offset). */
int lf_chunk_read_block(struct lf_chunk_reader *r, uint32_t i, struct lf_error *err);
void lf_chunk_close(struct lf_chunk_reader *r); /* unmaps, frees raw; keeps nothing */

/* Iterates the entries of r->raw after lf_chunk_read_block. */
struct lf_chunk_iter {
	struct lf_rd rd;
	int64_t ts;
};
static inline void lf_chunk_iter_init(struct lf_chunk_iter *it, const struct lf_chunk_reader *r,
                                      const struct lf_chunk_block_info *bi)
{
	it->rd.p = (const unsigned char *)r->raw.data;
	it->rd.end = it->rd.p + r->raw.len;
	it->rd.bad = 0;
	it->ts = bi->min_ts;
}
/* 1 = entry, 0 = end, -1 = corrupt. e->ts is the absolute time. */
static inline int lf_chunk_iter_next(struct lf_chunk_iter *it, struct lf_sentry *e)
{
	if (it->rd.p >= it->rd.end)
		return 0;
	if (lf_entry_next(&it->rd, e) < 0)
		return -1;
	it->ts += e->ts;
	e->ts = it->ts;
	return 1;
}

#endif
