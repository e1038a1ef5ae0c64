/* tenant.c — see tenant.h. */
#include "tenant.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "codec.h"
#include "crc32c.h"
#include "log.h"
#include "timeutil.h"

#define REC_ENTRIES 1

int lf_tenant_id_valid(const char *id, size_t len, struct lf_error *err)
{
	if (len == 0)
		return lf_err(err, "no org id");
	if (len > LF_TENANT_ID_MAX)
		return lf_err(err, "tenant ID is too long: max %d characters", LF_TENANT_ID_MAX);
	if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
		return lf_err(err, "tenant ID is '.' or '..'");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (c && strchr("!-_.*'()", c))
			continue;
		if (c >= 0x20 && c < 0x7f)
			return lf_err(err, "tenant ID '%.64s' contains unsupported character '%c'",
			              id, c);
		return lf_err(err, "tenant ID contains unsupported character 0x%02x", c);
	}
	return 0;
}

/* ---- stream table ---- */

static int table_put(struct lf_tenant *t, struct lf_stream *s)
{
	if ((t->n_streams + 1) * 2 > t->table_cap) {
		size_t nc = t->table_cap ? t->table_cap * 2 : 256;
		struct lf_stream **nt = calloc(nc, sizeof(*nt));
		if (!nt)
			return -1;
		for (size_t i = 0; i < t->table_cap; i++) {
			struct lf_stream *x = t->table[i];
			if (!x)
				continue;
			size_t j = x->hash & (nc - 1);
			while (nt[j])
				j = (j + 1) & (nc - 1);
			nt[j] = x;
		}
		free(t->table);
		t->table = nt;
		t->table_cap = nc;
	}
	if (t->n_streams == t->cap_streams) {
		size_t nc = t->cap_streams ? t->cap_streams * 2 : 64;
		struct lf_stream **v = realloc(t->streams, nc * sizeof(*v));
		if (!v)
			return -1;
		t->streams = v;
		t->cap_streams = nc;
	}
	size_t j = s->hash & (t->table_cap - 1);
	while (t->table[j])
		j = (j + 1) & (t->table_cap - 1);
	t->table[j] = s;
	t->streams[t->n_streams++] = s;
	return 0;
}

struct lf_stream *lf_tenant_find(struct lf_tenant *t, const char *key, size_t len, uint64_t hash)
{
	if (!t->table_cap)
		return NULL;
	size_t j = hash & (t->table_cap - 1);
	for (struct lf_stream *x; (x = t->table[j]); j = (j + 1) & (t->table_cap - 1))
		if (x->hash == hash && x->key_len == len && !memcmp(x->key, key, len))
			return x;
	return NULL;
}

const struct lf_stream_cold lf_stream_cold_none = {.flushing_seg = UINT32_MAX};

/* s's own cold part, allocated from the tenant's arena on first need
 * (under lock, or while the tenant is opened). NULL when out of memory. */
static struct lf_stream_cold *stream_cold(struct lf_tenant *t, struct lf_stream *s)
{
	if (s->cold != &lf_stream_cold_none)
		return s->cold;
	struct lf_stream_cold *c = lf_strpool_alloc(&t->strings, sizeof(*c));
	if (!c)
		return NULL;
	*c = lf_stream_cold_none;
	s->cold = c;
	return c;
}

static void stream_free(struct lf_stream *s)
{
	if (!s)
		return;
	/* key and label slots share the stream's allocation; names and values
	 * are the tenant's interned strings */
	lf_head_free(&s->head);
	if (s->cold != &lf_stream_cold_none) { /* its memory is in the arena */
		lf_head_free(&s->cold->flushing);
		for (size_t i = 0; i < s->cold->n_chunks; i++)
			free(s->cold->chunks[i].file);
		free(s->cold->chunks);
		if (s->cold->dup) {
			free(s->cold->dup->hash);
			free(s->cold->dup->idx);
			free(s->cold->dup);
		}
	}
	/* s itself is in the tenant's arena */
}

/* Creates a stream from its canonical key and parsed labels: one
 * allocation in the tenant's arena (streams live until the tenant is
 * closed, and packing them there keeps them out of the malloc arenas that
 * request buffers churn) holds the stream, its label slots and its key;
 * the slots
 * point at the tenant's interned names and values (one copy of each), so
 * an idle stream costs its struct, its slots and its key (under lock). */
static struct lf_stream *stream_new(struct lf_tenant *t, const char *key, size_t len, uint64_t hash,
                                    const struct lf_labels *ls)
{
	size_t nl = ls->n;
	if (len > UINT32_MAX)
		return NULL;
	struct lf_stream *s =
	        lf_strpool_alloc(&t->strings, sizeof(*s) + nl * sizeof(struct lf_label) + len + 1);
	if (!s)
		return NULL;
	struct lf_label *slots = (struct lf_label *)(s + 1);
	for (size_t i = 0; i < nl; i++) {
		const struct lf_label *l = &ls->v[i];
		slots[i].name = (char *)lf_strpool_intern(&t->strings, l->name, l->name_len);
		slots[i].value = (char *)lf_strpool_intern(&t->strings, l->value, l->value_len);
		if (!slots[i].name || !slots[i].value)
			return NULL; /* s stays in the arena, unused */
		slots[i].name_len = l->name_len;
		slots[i].value_len = l->value_len;
	}
	s->labels.v = nl ? slots : NULL;
	s->labels.n = s->labels.cap = s->labels.n_seen = nl;
	s->key = (char *)(slots + nl);
	memcpy(s->key, key, len);
	s->key[len] = 0;
	s->key_len = (uint32_t)len;
	s->hash = hash;
	s->head_seg = UINT32_MAX;
	s->cold = (struct lf_stream_cold *)&lf_stream_cold_none;
	s->rate_tokens = (double)t->cfg->limits.per_stream_rate_limit_burst;
	s->rate_mono = lf_monotonic_ns();
	if (table_put(t, s) < 0)
		return NULL;
	return s;
}

bool lf_stream_overlaps(const struct lf_stream *s, int64_t start, int64_t end)
{
	const struct lf_head *h = &s->head, *f = &s->cold->flushing;
	if (lf_head_n(h) && lf_head_min(h) <= end && lf_head_max(h) >= start)
		return true;
	if (lf_head_n(f) && lf_head_min(f) <= end && lf_head_max(f) >= start)
		return true;
	for (size_t i = 0; i < s->cold->n_chunks; i++)
		if (s->cold->chunks[i].from <= end && s->cold->chunks[i].through >= start)
			return true;
	return false;
}

/* ---- exact-duplicate detection in the head ---- */

static uint64_t entry_hash(int64_t ts, const char *line, size_t len)
{
	return (lf_key_hash(line, len) ^ ((uint64_t)ts * 0x9e3779b97f4a7c15ull)) | 1;
}

static void dup_clear(struct lf_stream *s)
{
	struct lf_stream_dup *ds = s->cold->dup;
	if (ds && ds->n) {
		memset(ds->hash, 0, ds->cap * sizeof(*ds->hash));
		ds->n = 0;
	}
	s->head.flags &= ~LF_STREAM_DUP_ON;
}

/* True when the head already holds an entry with this ts and line. An
 * entry in a sealed block is read back by decompressing that block (the
 * tenant's head context keeps the last one): only a real duplicate or a
 * 64-bit hash collision gets that far. */
static bool dup_find(struct lf_tenant *t, const struct lf_stream *s, uint64_t h, int64_t ts,
                     const char *line, size_t len)
{
	const struct lf_stream_dup *ds = s->cold->dup;
	if (!ds || !ds->cap)
		return false;
	for (size_t j = h & (ds->cap - 1); ds->hash[j]; j = (j + 1) & (ds->cap - 1)) {
		if (ds->hash[j] != h)
			continue;
		struct lf_sentry e;
		if (lf_head_entry_at(&s->head, &t->hctx, ds->idx[j], &e) == 0 && e.ts == ts &&
		    e.line_len == len && !memcmp(e.line, line, len))
			return true;
	}
	return false;
}

static int dup_add(struct lf_tenant *t, struct lf_stream *s, uint64_t h, uint32_t idx)
{
	struct lf_stream_cold *c = stream_cold(t, s);
	if (!c || (!c->dup && !(c->dup = calloc(1, sizeof(*c->dup)))))
		return -1;
	struct lf_stream_dup *ds = c->dup;
	if ((ds->n + 1) * 2 > ds->cap) {
		size_t nc = ds->cap ? ds->cap * 2 : 64;
		uint64_t *nh = calloc(nc, sizeof(*nh));
		uint32_t *no = malloc(nc * sizeof(*no));
		if (!nh || !no) {
			free(nh);
			free(no);
			return -1;
		}
		for (size_t i = 0; i < ds->cap; i++) {
			if (!ds->hash[i])
				continue;
			size_t j = ds->hash[i] & (nc - 1);
			while (nh[j])
				j = (j + 1) & (nc - 1);
			nh[j] = ds->hash[i];
			no[j] = ds->idx[i];
		}
		free(ds->hash);
		free(ds->idx);
		ds->hash = nh;
		ds->idx = no;
		ds->cap = nc;
	}
	size_t j = h & (ds->cap - 1);
	while (ds->hash[j])
		j = (j + 1) & (ds->cap - 1);
	ds->hash[j] = h;
	ds->idx[j] = idx;
	ds->n++;
	return 0;
}

/* Builds the set from the head (every block, in arrival order). */
static void dup_rebuild(struct lf_tenant *t, struct lf_stream *s)
{
	dup_clear(s);
	s->head.flags |= LF_STREAM_DUP_ON;
	t->hctx.cache_id = 0; /* the iteration below decompresses into the cache */
	struct lf_head_iter it;
	struct lf_sentry e;
	uint32_t idx = 0;
	lf_head_iter_init(&it, &s->head, INT64_MIN, INT64_MAX, &t->hctx.cache);
	while (lf_head_iter_next(&it, &e)) {
		if (dup_add(t, s, entry_hash(e.ts, e.line, e.line_len), idx++) < 0) {
			dup_clear(s); /* incomplete: do not trust it */
			break;
		}
	}
	t->hctx.cache_id = 0;
	if (it.damaged)
		dup_clear(s);
}

/* Is (ts, line) already in the head? Starts the set on first need. */
static bool head_dup(struct lf_tenant *t, struct lf_stream *s, int64_t ts, const char *line,
                     size_t len, uint64_t *h)
{
	bool on = s->head.flags & LF_STREAM_DUP_ON;
	*h = 0;
	if (!lf_head_n(&s->head) || ts > lf_head_max(&s->head)) {
		if (on)
			*h = entry_hash(ts, line, len);
		return false;
	}
	if (!on)
		dup_rebuild(t, s);
	*h = entry_hash(ts, line, len);
	return (s->head.flags & LF_STREAM_DUP_ON) && dup_find(t, s, *h, ts, line, len);
}

/* Records a just-appended entry (number idx) in the set, if the set is on. */
static int head_dup_add(struct lf_tenant *t, struct lf_stream *s, uint64_t h, uint64_t idx)
{
	if (!(s->head.flags & LF_STREAM_DUP_ON))
		return 0;
	if (idx > UINT32_MAX || dup_add(t, s, h, (uint32_t)idx) < 0) {
		dup_clear(s);
		return -1;
	}
	return 0;
}

/* Bookkeeping after an entry went into the head (caller holds the write
 * lock); first: the head was empty before it. */
static void head_note(struct lf_tenant *t, struct lf_stream *s, bool first, uint32_t seg,
                      int64_t mono)
{
	if (first) {
		s->head.m->first_mono = mono;
		s->head_seg = seg;
		t->active++;
	}
	s->head.m->last_mono = mono;
}

/* ---- opening: index, chunk refs, WAL replay ---- */

struct load_ctx {
	struct lf_tenant *t;
	struct {
		int64_t id;
		struct lf_stream *s;
	} * byid;
	size_t n, cap;
	uint32_t max_seg;
	uint64_t replay_entries, replay_skipped;
	struct lf_labels tmp;
};

static int load_series(void *ctx, int64_t id, const char *labels, uint32_t wal_seg,
                       uint64_t wal_off)
{
	struct load_ctx *lc = ctx;
	struct lf_error err;
	if (lf_labels_parse(labels, strlen(labels), &lc->tmp, &err) < 0) {
		lf_warn("tenant %s: index series %" PRId64 " has bad labels, ignored: %s",
		        lc->t->id, id, err.msg);
		return 0;
	}
	struct lf_buf key = LF_BUF_INIT;
	lf_labels_render(&lc->tmp, &key);
	uint64_t h = lf_key_hash(key.data, key.len);
	struct lf_stream *s = lf_tenant_find(lc->t, key.data, key.len, h);
	if (!s)
		s = stream_new(lc->t, key.data, key.len, h, &lc->tmp);
	lf_buf_free(&key);
	if (!s)
		return -1;
	s->series_id = id;
	if (!stream_cold(lc->t, s))
		return -1;
	s->cold->flushed = (struct lf_wal_pos){wal_seg, wal_off};
	if (wal_seg > lc->max_seg)
		lc->max_seg = wal_seg;
	if (lc->n == lc->cap) {
		lc->cap = lc->cap ? lc->cap * 2 : 64;
		void *v = realloc(lc->byid, lc->cap * sizeof(*lc->byid));
		if (!v)
			return -1;
		lc->byid = v;
	}
	lc->byid[lc->n].id = id;
	lc->byid[lc->n].s = s;
	lc->n++;
	return 0;
}

#define CHUNK_NAME_FMT "%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64 "-%08" PRIx32 ".chk"

const char *lf_chunk_ref_name(int64_t series_id, const struct lf_chunk_ref *r,
                              char buf[LF_CHUNK_NAME_MAX])
{
	if (r->file)
		snprintf(buf, LF_CHUNK_NAME_MAX, "%s", r->file);
	else
		snprintf(buf, LF_CHUNK_NAME_MAX, CHUNK_NAME_FMT, (uint64_t)series_id,
		         (uint64_t)r->from, (uint64_t)r->through, r->crc);
	return buf;
}

char *lf_chunk_ref_path_new(const struct lf_tenant *t, const struct lf_stream *s,
                            const struct lf_chunk_ref *r)
{
	char nb[LF_CHUNK_NAME_MAX];
	lf_chunk_ref_name(s->series_id, r, nb);
	size_t n = strlen(t->chunks_dir) + 1 + strlen(nb) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", t->chunks_dir, nb);
	return p;
}

/* true (and *crc) when name is exactly the name this store gives the
 * chunk (series_id, from, through) */
static bool canonical_name(const char *name, int64_t series_id, int64_t from, int64_t through,
                           uint32_t *crc)
{
	size_t n = strlen(name);
	if (n != 16 * 3 + 8 + 3 + 4 || strcmp(name + n - 4, ".chk"))
		return false;
	char hex[9];
	memcpy(hex, name + 51, 8);
	hex[8] = 0;
	if (strspn(hex, "0123456789abcdef") != 8)
		return false;
	uint32_t c = (uint32_t)strtoul(hex, NULL, 16);
	char want[LF_CHUNK_NAME_MAX];
	struct lf_chunk_ref r = {0, from, through, 0, 0, c, NULL};
	if (strcmp(lf_chunk_ref_name(series_id, &r, want), name))
		return false;
	*crc = c;
	return true;
}

static int chunk_ref_add(struct lf_tenant *t, struct lf_stream *s, const struct lf_chunk_ref *r)
{
	if (!stream_cold(t, s))
		return -1;
	if (s->cold->n_chunks == s->cold->cap_chunks) {
		/* one slot first: most idle streams have one chunk */
		size_t nc = s->cold->cap_chunks ? s->cold->cap_chunks * 2 : 1;
		struct lf_chunk_ref *v = realloc(s->cold->chunks, nc * sizeof(*v));
		if (!v)
			return -1;
		s->cold->chunks = v;
		s->cold->cap_chunks = nc;
	}
	/* keep sorted by from (flushes are mostly in order) */
	size_t i = s->cold->n_chunks;
	while (i > 0 && s->cold->chunks[i - 1].from > r->from) {
		s->cold->chunks[i] = s->cold->chunks[i - 1];
		i--;
	}
	s->cold->chunks[i] = *r;
	s->cold->n_chunks++;
	return 0;
}

static int load_chunk(void *ctx, const struct lf_index_chunk *c)
{
	struct load_ctx *lc = ctx;
	/* series are loaded in id order: binary search */
	size_t lo = 0, hi = lc->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lc->byid[mid].id < c->series_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == lc->n || lc->byid[lo].id != c->series_id) {
		lf_warn("tenant %s: chunk %" PRId64 " refers to unknown series %" PRId64
		        ", ignored",
		        lc->t->id, c->id, c->series_id);
		return 0;
	}
	struct lf_stream *s = lc->byid[lo].s;
	struct lf_chunk_ref r = {c->id, c->from, c->through, c->entries, c->bytes, 0, NULL};
	if (!canonical_name(c->file, c->series_id, c->from, c->through, &r.crc) &&
	    !(r.file = strdup(c->file)))
		return -1;
	if (chunk_ref_add(lc->t, s, &r) < 0) {
		free(r.file);
		return -1;
	}
	struct lf_wal_pos p = {c->wal_seg, c->wal_off};
	if (lf_wal_pos_cmp(p, s->cold->flushed) > 0)
		s->cold->flushed = p;
	if (c->wal_seg > lc->max_seg)
		lc->max_seg = c->wal_seg;
	return 0;
}

static int replay_record(void *ctx, struct lf_wal_pos pos, const unsigned char *rec, size_t len)
{
	struct load_ctx *lc = ctx;
	struct lf_tenant *t = lc->t;
	struct lf_rd r = {rec, rec + len, 0};
	uint64_t type = lf_rd_uvarint(&r);
	if (type != REC_ENTRIES) {
		lf_warn("tenant %s: wal record type %" PRIu64 " unknown, skipped", t->id, type);
		return 0;
	}
	uint64_t ns = lf_rd_uvarint(&r);
	int64_t mono = lf_monotonic_ns();
	for (uint64_t i = 0; i < ns && !r.bad; i++) {
		size_t klen;
		const char *key = lf_rd_bytes(&r, &klen);
		uint64_t n = lf_rd_uvarint(&r);
		if (r.bad)
			break;
		uint64_t h = lf_key_hash(key, klen);
		struct lf_stream *s = lf_tenant_find(t, key, klen, h);
		if (!s) {
			struct lf_error err;
			if (lf_labels_parse(key, klen, &lc->tmp, &err) < 0) {
				lf_warn("tenant %s: wal stream labels unparsable, record skipped: "
				        "%s",
				        t->id, err.msg);
				return 0;
			}
			s = stream_new(t, key, klen, h, &lc->tmp);
			if (!s)
				return -1;
		}
		bool skip = lf_wal_pos_cmp(pos, s->cold->flushed) < 0;
		for (uint64_t j = 0; j < n; j++) {
			const unsigned char *start = r.p;
			struct lf_sentry e;
			if (lf_entry_next(&r, &e) < 0)
				break;
			if (skip) {
				lc->replay_skipped++;
				continue;
			}
			/* the same duplicate rule as the live push, so replay
			 * rebuilds the very head the push built */
			uint64_t eh;
			if (head_dup(t, s, e.ts, e.line, e.line_len, &eh))
				continue;
			uint64_t idx = lf_head_n(&s->head);
			int64_t held = (int64_t)lf_head_held(&s->head);
			if (lf_head_append_rec(&s->head, &t->hctx, e.ts, start,
			                       (size_t)(r.p - start)) < 0 ||
			    head_dup_add(t, s, eh, idx) < 0)
				return -1;
			*t->heads += (int64_t)lf_head_held(&s->head) - held;
			head_note(t, s, idx == 0, pos.seg, mono);
			lc->replay_entries++;
		}
	}
	if (r.bad)
		lf_warn("tenant %s: wal record at segment %u offset %" PRIu64
		        " is malformed (checksum was fine), rest of it skipped",
		        t->id, pos.seg, pos.off);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Removes temp files and chunk files the index does not know (a crash
 * between rename and index commit; the WAL still has their entries). */
static void clean_chunks_dir(struct lf_tenant *t)
{
	size_t n = 0, cap = 0;
	char **known = NULL;
	for (size_t i = 0; i < t->n_streams; i++)
		for (size_t j = 0; j < t->streams[i]->cold->n_chunks; j++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				char **v = realloc(known, cap * sizeof(*v));
				if (!v) {
					free_strs(known, n);
					return;
				}
				known = v;
			}
			char nb[LF_CHUNK_NAME_MAX];
			known[n] = strdup(lf_chunk_ref_name(t->streams[i]->series_id,
			                                    &t->streams[i]->cold->chunks[j], nb));
			if (!known[n]) {
				free_strs(known, n);
				return;
			}
			n++;
		}
	if (n)
		qsort(known, n, sizeof(*known), cmp_str);
	DIR *d = opendir(t->chunks_dir);
	if (!d) {
		free_strs(known, n);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		bool tmp = name[0] == '.';
		if (!tmp && n && bsearch(&name, known, n, sizeof(*known), cmp_str))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", t->chunks_dir, name);
		if (unlink(p) == 0)
			lf_info("tenant %s: removed %s chunk file %s", t->id,
			        tmp ? "unfinished" : "unindexed", p);
	}
	closedir(d);
	free_strs(known, n);
}

int lf_tenant_open(const char *root, const char *id, const struct lf_store_config *cfg,
                   struct lf_store_metrics *m, struct lf_tenant **out, struct lf_error *err)
{
	if (lf_tenant_id_valid(id, strlen(id), err) < 0)
		return -1;
	struct lf_tenant *t = calloc(1, sizeof(*t));
	if (!t)
		return lf_err(err, "out of memory");
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->flush_mu, NULL);
	pthread_mutex_init(&t->rate_mu, NULL);
	t->cfg = cfg;
	t->m = m;
	t->rate_tokens = cfg->limits.ingestion_burst_size_mb * 1024 * 1024;
	t->rate_mono = lf_monotonic_ns();
	t->heads = &t->heads_own;
	/* a sealed head block becomes a chunk block as it is: never larger
	 * than chunk_block_size */
	lf_head_ctx_init(&t->hctx,
	                 (size_t)(cfg->head_block_size < cfg->chunk_block_size
	                                  ? cfg->head_block_size
	                                  : cfg->chunk_block_size),
	                 (enum lf_chunk_codec)cfg->chunk_encoding);
	size_t rl = strlen(root), il = strlen(id);
	t->id = strdup(id);
	t->dir = malloc(rl + il + 2);
	t->chunks_dir = malloc(rl + il + 10);
	char walp[PATH_MAX], ixp[PATH_MAX];
	if (!t->id || !t->dir || !t->chunks_dir) {
		lf_tenant_close(t);
		return lf_err(err, "out of memory");
	}
	sprintf(t->dir, "%s/%s", root, id);
	sprintf(t->chunks_dir, "%s/chunks", t->dir);
	snprintf(walp, sizeof(walp), "%s/wal", t->dir);
	snprintf(ixp, sizeof(ixp), "%s/index.db", t->dir);
	if ((mkdir(t->dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(t->chunks_dir, 0755) < 0 && errno != EEXIST)) {
		lf_err(err, "tenant %s: mkdir %s: %s", id, t->dir, strerror(errno));
		lf_tenant_close(t);
		return -1;
	}
	struct load_ctx lc = {.t = t};
	if (lf_index_open(ixp, &t->ix, err) < 0 ||
	    lf_index_load(t->ix, load_series, load_chunk, &lc, err) < 0 ||
	    lf_wal_open(walp, 0, &t->wal, err) < 0) {
		free(lc.byid);
		lf_labels_free(&lc.tmp);
		lf_tenant_close(t);
		return -1;
	}
	free(lc.byid);
	lc.byid = NULL;
	clean_chunks_dir(t);
	struct lf_wal_replay_stats st;
	int64_t t0 = lf_monotonic_ns();
	if (lf_wal_replay(t->wal, lc.max_seg + 1, replay_record, &lc, &st, err) < 0) {
		lf_labels_free(&lc.tmp);
		lf_tenant_close(t);
		return -1;
	}
	lf_labels_free(&lc.tmp);
	const char *lv[] = {t->id};
	lf_metric_add(m->wal_replayed, lv, (double)st.records);
	lf_metric_add(m->wal_skipped_bytes, lv, (double)st.skipped_bytes);
	size_t nchunks = 0;
	for (size_t i = 0; i < t->n_streams; i++)
		nchunks += t->streams[i]->cold->n_chunks;
	lf_info("tenant %s: opened: %zu streams, %zu chunks; wal replay: %u segments, %" PRIu64
	        " records, %" PRIu64 " entries to head, %" PRIu64
	        " entries already in chunks, %" PRIu64 " bytes skipped in %u torn segments, %.3fs",
	        id, t->n_streams, nchunks, st.segments, st.records, lc.replay_entries,
	        lc.replay_skipped, st.skipped_bytes, st.torn_segments,
	        (double)(lf_monotonic_ns() - t0) / 1e9);
	*out = t;
	return 0;
}

void lf_tenant_close(struct lf_tenant *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_streams; i++)
		stream_free(t->streams[i]);
	lf_head_ctx_free(&t->hctx);
	lf_head_flush_scratch_free(&t->fscratch);
	lf_buf_free(&t->chunk_out);
	free(t->streams);
	free(t->table);
	lf_strpool_free(&t->strings);
	lf_wal_close(t->wal);
	lf_index_close(t->ix);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->flush_mu);
	pthread_mutex_destroy(&t->rate_mu);
	free(t->id);
	free(t->dir);
	free(t->chunks_dir);
	free(t);
}

/* ---- push ---- */

bool lf_tenant_rate_allow(struct lf_tenant *t, uint64_t bytes)
{
	double rate = t->cfg->limits.ingestion_rate_mb * 1024 * 1024;
	double burst = t->cfg->limits.ingestion_burst_size_mb * 1024 * 1024;
	if (rate <= 0)
		return true;
	pthread_mutex_lock(&t->rate_mu);
	int64_t now = lf_monotonic_ns();
	t->rate_tokens += rate * (double)(now - t->rate_mono) / 1e9;
	if (t->rate_tokens > burst)
		t->rate_tokens = burst;
	t->rate_mono = now;
	bool ok = (double)bytes <= t->rate_tokens;
	if (ok)
		t->rate_tokens -= (double)bytes;
	pthread_mutex_unlock(&t->rate_mu);
	return ok;
}

static int encode_record(const struct lf_ingest_batch *b, struct lf_buf *rec)
{
	lf_buf_reset(rec);
	size_t n = 0;
	for (size_t i = 0; i < b->n_streams; i++)
		n += !b->streams[i].dropped;
	if (lf_buf_uvarint(rec, REC_ENTRIES) < 0 || lf_buf_uvarint(rec, n) < 0)
		return -1;
	for (size_t i = 0; i < b->n_streams; i++) {
		const struct lf_ingest_stream *s = &b->streams[i];
		if (s->dropped)
			continue;
		if (lf_buf_bytes(rec, s->key.data, s->key.len) < 0 || lf_buf_uvarint(rec, s->n) < 0)
			return -1;
		for (size_t j = 0; j < s->n; j++) {
			const struct lf_ingest_entry *e = &b->entries[s->first + j];
			if (lf_entry_put(rec, e->ts, e->line, e->line_len, b->sm + e->sm_first,
			                 e->n_sm) < 0)
				return -1;
		}
	}
	return 0;
}

/* go-humanize's Bytes(): SI units, one decimal under 10. */
static void humanize(uint64_t v, char *out, size_t n)
{
	static const char *u[] = {"B", "kB", "MB", "GB", "TB"};
	double d = (double)v;
	int i = 0;
	if (v < 10) {
		snprintf(out, n, "%" PRIu64 " B", v);
		return;
	}
	while (d >= 1000 && i < 4) {
		d /= 1000;
		i++;
	}
	if (d < 10)
		snprintf(out, n, "%.1f %s", d, u[i]);
	else
		snprintf(out, n, "%.0f %s", d, u[i]);
}

static void discard(struct lf_tenant *t, const char *reason, uint64_t lines, uint64_t bytes)
{
	const char *lv[] = {reason, t->id};
	lf_metric_add(t->m->discarded_samples, lv, (double)lines);
	lf_metric_add(t->m->discarded_bytes, lv, (double)bytes);
}

int lf_tenant_push(struct lf_tenant *t, struct lf_ingest_batch *b, struct lf_buf *errors,
                   struct lf_error *err)
{
	const struct lf_store_limits *l = &t->cfg->limits;
	struct lf_buf *rec = &b->scratch;
	if (encode_record(b, rec) < 0)
		return lf_err(err, "out of memory encoding the WAL record"), 500;
	int status = 204;
	uint64_t seq = 0;
	bool kick = false, help = false;
	int64_t mono = lf_monotonic_ns();
	pthread_rwlock_wrlock(&t->lock);
	/* Resolve streams and apply per-stream limits. */
	struct lf_stream *stack[64];
	struct lf_stream **st = b->n_streams <= 64 ? stack : malloc(b->n_streams * sizeof(*st));
	if (!st) {
		pthread_rwlock_unlock(&t->lock);
		return lf_err(err, "out of memory"), 500;
	}
	size_t dropped = 0;
	for (size_t i = 0; i < b->n_streams; i++) {
		struct lf_ingest_stream *is = &b->streams[i];
		struct lf_stream *s = lf_tenant_find(t, is->key.data, is->key.len, is->hash);
		if ((!s || lf_head_n(&s->head) == 0) && l->max_global_streams_per_user > 0 &&
		    (int64_t)t->active >= l->max_global_streams_per_user) {
			is->dropped = true;
			dropped++;
			status = 429;
			discard(t, "stream_limit", is->n, is->bytes);
			if (errors && errors->len < 65536)
				lf_buf_printf(
				        errors,
				        "%smaximum active stream limit exceeded when trying to "
				        "create stream %.1024s, reduce the number of active "
				        "streams (reduce labels or reduce label values), or "
				        "contact your Loki administrator to see if the limit can "
				        "be increased, user: '%s'",
				        errors->len ? "\n" : "", is->key.data, t->id);
			st[i] = NULL;
			continue;
		}
		if (!s) {
			s = stream_new(t, is->key.data, is->key.len, is->hash, &is->labels);
			if (!s) {
				pthread_rwlock_unlock(&t->lock);
				if (st != stack)
					free(st);
				return lf_err(err, "out of memory creating a stream"), 500;
			}
			b->created++;
		}
		if (l->per_stream_rate_limit > 0) {
			double burst = (double)(l->per_stream_rate_limit_burst > 0
			                                ? l->per_stream_rate_limit_burst
			                                : l->per_stream_rate_limit);
			s->rate_tokens += (double)l->per_stream_rate_limit *
			                  (double)(mono - s->rate_mono) / 1e9;
			if (s->rate_tokens > burst)
				s->rate_tokens = burst;
			s->rate_mono = mono;
			if ((double)is->bytes > s->rate_tokens) {
				char lim[32], tot[32];
				humanize((uint64_t)l->per_stream_rate_limit, lim, sizeof(lim));
				humanize(is->bytes, tot, sizeof(tot));
				is->dropped = true;
				dropped++;
				status = 429;
				discard(t, "per_stream_rate_limit", is->n, is->bytes);
				if (errors && errors->len < 65536)
					lf_buf_printf(
					        errors,
					        "%sPer stream rate limit exceeded (limit: %s/sec) "
					        "while attempting to ingest for stream '%.1024s' "
					        "totaling %s, consider splitting a stream via "
					        "additional labels or contact your Loki "
					        "administrator to see if the limit can be "
					        "increased",
					        errors->len ? "\n" : "", lim, is->key.data, tot);
				st[i] = NULL;
				continue;
			}
			s->rate_tokens -= (double)is->bytes;
		}
		st[i] = s;
	}
	if (dropped && dropped < b->n_streams && encode_record(b, rec) < 0) {
		pthread_rwlock_unlock(&t->lock);
		if (st != stack)
			free(st);
		return lf_err(err, "out of memory encoding the WAL record"), 500;
	}
	if (dropped < b->n_streams) {
		struct lf_wal_pos pos;
		if (lf_wal_append(t->wal, rec->data, rec->len, &pos, &seq, err) < 0) {
			pthread_rwlock_unlock(&t->lock);
			if (st != stack)
				free(st);
			return 500;
		}
		uint64_t lines = 0, bytes = 0;
		for (size_t i = 0; i < b->n_streams; i++) {
			struct lf_stream *s = st[i];
			if (!s)
				continue;
			const struct lf_ingest_stream *is = &b->streams[i];
			/* a new open block starts at the size of what arrives */
			size_t hint = 0;
			if (lf_head_n(&s->head) == 0)
				for (size_t j = 0; j < is->n; j++)
					hint += b->entries[is->first + j].line_len + 24;
			int64_t held_was = (int64_t)lf_head_held(&s->head);
			for (size_t j = 0; j < is->n; j++) {
				struct lf_ingest_entry *e = &b->entries[is->first + j];
				uint64_t h;
				if (head_dup(t, s, e->ts, e->line, e->line_len, &h)) {
					e->dup = true;
					t->duplicates++;
					continue;
				}
				uint64_t idx = lf_head_n(&s->head);
				if (lf_head_append(&s->head, &t->hctx, e->ts, e->line, e->line_len,
				                   b->sm + e->sm_first, e->n_sm, hint) < 0 ||
				    head_dup_add(t, s, h, idx) < 0) {
					/* The WAL has it; a restart would recover it. */
					pthread_rwlock_unlock(&t->lock);
					if (st != stack)
						free(st);
					return lf_err(err, "out of memory appending to the head"),
					       500;
				}
				head_note(t, s, idx == 0, pos.seg, mono);
			}
			lines += is->n;
			bytes += is->bytes;
			*t->heads += (int64_t)lf_head_held(&s->head) - held_was;
			int64_t raw = (int64_t)lf_head_raw(&s->head);
			if (raw >= t->cfg->chunk_target_size)
				kick = true;
			if (raw >= t->cfg->chunk_target_size + t->cfg->chunk_target_size / 4)
				help = true;
		}
		/* Past the memory limit, the flusher cuts the largest heads; well
		 * past it (it is behind), this push helps, as above. */
		int64_t lim = t->cfg->max_head_bytes;
		if (lim > 0 && *t->heads > lim) {
			kick = true;
			if (*t->heads > lim + lim / 4)
				help = true;
		}
		const char *lv[] = {t->id};
		lf_metric_add(t->m->lines_received, lv, (double)lines);
		lf_metric_add(t->m->bytes_received, lv, (double)bytes);
	}
	pthread_rwlock_unlock(&t->lock);
	if (st != stack)
		free(st);
	if (kick && t->kick)
		t->kick(t->kick_ctx);
	if (seq && lf_wal_sync(t->wal, seq, err) < 0)
		return 500;
	if (seq && t->on_push)
		t->on_push(t->on_push_ctx, t, b);
	/* Backpressure: a head well past its target means the flusher thread
	 * is behind (it competes for CPU with the pushes). Heads are memory, so
	 * this push helps: it runs a flush pass before it answers (waiting for
	 * the flusher's pass if one is running). Its entries are already
	 * durable; a failed pass is logged by lf_tenant_flush and retried. */
	if (help)
		(void)lf_tenant_flush(t, false);
	return status;
}

/* ---- flush ---- */

/* A flush writes its chunks in batches: each chunk's file is written (not
 * yet synced) as its stream is cut, and a batch is committed at once: one
 * syncfs(2) makes every file of the batch durable, then the renames, one
 * directory fsync, and the batch's index rows in one SQLite transaction.
 * Before, every chunk paid for two fsyncs (file and directory) and two
 * transactions: with 10,000 idle one-entry streams a shutdown took 117 s
 * on the 2-core VM. A batch holds at most LF_FLUSH_BATCH chunks and LF_FLUSH_BATCH_BYTES
 * of cut heads, which queries keep reading until it commits. */
#define LF_FLUSH_BATCH       256
#define LF_FLUSH_BATCH_BYTES ((size_t)16 << 20)

struct flush_item {
	struct lf_stream *s;
	struct lf_wal_pos pos;
	int64_t mono;
	bool by_size;
	bool new_series; /* its series row is part of this batch's transaction */
	int fd;          /* temp file written and still open; -1 = failed (err set) */
	struct lf_chunk_info info;
	uint32_t crc;
	char name[LF_CHUNK_NAME_MAX];
	struct lf_error err;
};

/* Encodes s->cold->flushing as one chunk (its sealed blocks copied as they
 * are when they are in time order, see lf_head_chunk) and writes it to a
 * temp file (it->fd). */
static int write_chunk_tmp(struct lf_tenant *t, struct flush_item *it, struct lf_buf *out)
{
	struct lf_stream *s = it->s;
	struct lf_error *err = &it->err;
	bool reused = false;
	lf_buf_reset(out);
	if (lf_head_chunk(&s->cold->flushing, s->key, (size_t)t->cfg->chunk_block_size,
	                  (enum lf_chunk_codec)t->cfg->chunk_encoding, &t->fscratch, out, &it->info,
	                  &reused, err) < 0) {
		char msg[sizeof(err->msg)];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return lf_err(err, "stream %s: %s", s->key, msg);
	}
	t->chunks_reused += reused;
	it->new_series = !s->series_id;
	if (!s->series_id && lf_index_series(t->ix, s->key, &s->labels, &s->series_id, err) < 0)
		return -1;
	it->crc = lf_crc32c(0, out->data, out->len);
	snprintf(it->name, sizeof(it->name), CHUNK_NAME_FMT, (uint64_t)s->series_id,
	         (uint64_t)it->info.from, (uint64_t)it->info.through, it->crc);
	return lf_chunk_write_tmp(t->chunks_dir, it->name, out->data, out->len, &it->fd, err);
}

/* A cut head whose chunk could not be written goes back into the head (in
 * front of what arrived meanwhile) and is retried on the next pass. Under
 * the write lock. */
static void unflush(struct lf_tenant *t, struct lf_stream *s, int64_t mono)
{
	bool empty = lf_head_n(&s->head) == 0;
	int64_t held = (int64_t)lf_head_held(&s->head);
	if (lf_head_prepend(&s->head, &s->cold->flushing, &t->hctx) < 0)
		return;
	*t->heads += (int64_t)lf_head_held(&s->head) - held;
	if (empty && s->head.m) {
		s->head.m->first_mono = s->head.m->last_mono = mono;
		t->active++;
	}
	if (s->cold->flushing_seg < s->head_seg)
		s->head_seg = s->cold->flushing_seg;
	dup_clear(s); /* entry numbers changed: rebuilt from the merged head on need */
}

/* Commits a batch (see above) and finishes each of its streams' cut heads.
 * Adds to *written and *failed. */
static void commit_batch(struct lf_tenant *t, struct flush_item *items, size_t n, int *written,
                         int *failed)
{
	/* 1. Every file of the batch durable at once. */
	struct lf_error berr = {{0}};
	bool batch_ok = true;
	for (size_t i = 0; i < n; i++) {
		if (items[i].fd >= 0) {
			batch_ok = lf_chunk_sync_fs(items[i].fd, t->chunks_dir, &berr) == 0;
			break;
		}
	}
	/* 2. The renames, made durable by one directory fsync. */
	size_t renamed = 0;
	for (size_t i = 0; i < n; i++) {
		struct flush_item *it = &items[i];
		if (it->fd < 0)
			continue;
		close(it->fd);
		it->fd = -1;
		if (!batch_ok) {
			char tmp[PATH_MAX];
			snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", t->chunks_dir, it->name);
			unlink(tmp);
			it->err = berr;
		} else if (lf_chunk_rename_tmp(t->chunks_dir, it->name, &it->err) == 0) {
			it->fd = -2; /* renamed */
			renamed++;
		}
	}
	/* The renames must be durable before the index rows (and the WAL
	 * positions stored with them) can be: a row must never outlive its file. */
	if (renamed && lf_chunk_sync_dir(t->chunks_dir, &berr) < 0)
		batch_ok = false;
	/* 3. The index rows, one transaction (begun before the batch's first
	 * series row), durable at the pass's checkpoint. */
	struct lf_chunk_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs) {
		batch_ok = false;
		lf_err(&berr, "out of memory");
	}
	for (size_t i = 0; i < n && batch_ok; i++) {
		struct flush_item *it = &items[i];
		if (it->fd != -2)
			continue;
		struct lf_index_chunk ic = {0,
		                            it->s->series_id,
		                            it->info.from,
		                            it->info.through,
		                            (int64_t)it->info.entries,
		                            (int64_t)it->info.raw_bytes,
		                            it->name,
		                            it->pos.seg,
		                            it->pos.off};
		int64_t id;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", t->chunks_dir, it->name);
		if (lf_index_add_chunk(t->ix, &ic, &id, &it->err) < 0) {
			unlink(path);
			it->fd = -1;
			continue;
		}
		refs[i] = (struct lf_chunk_ref){id,
		                                it->info.from,
		                                it->info.through,
		                                (int64_t)it->info.entries,
		                                (int64_t)it->info.raw_bytes,
		                                it->crc,
		                                NULL};
		it->fd = -3; /* in the index */
	}
	if (lf_index_batch_end(t->ix, batch_ok, &berr) < 0)
		batch_ok = false;
	for (size_t i = 0; i < n; i++) {
		struct flush_item *it = &items[i];
		if (batch_ok) {
			if (it->fd == -3) {
				const char *lv[] = {t->id};
				lf_metric_inc(t->m->chunks_flushed, lv);
				lf_metric_add(t->m->chunk_bytes, lv, (double)it->info.file_bytes);
			}
			continue;
		}
		/* The transaction is gone: no row of this batch exists. */
		if (it->new_series)
			it->s->series_id = 0;
		if (it->fd == -2 || it->fd == -3) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", t->chunks_dir, it->name);
			unlink(path);
			it->err = berr;
		}
		it->fd = -1;
	}
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < n; i++) {
		struct flush_item *it = &items[i];
		struct lf_stream *s = it->s;
		if (it->fd == -3) {
			/* chunk_ref_add failing leaves the chunk to the index: it is
			 * served again after a restart. */
			chunk_ref_add(t, s, &refs[i]);
			s->cold->flushed = it->pos;
			(*written)++;
		} else {
			lf_error("tenant %s: flushing stream %s failed, will retry: %s", t->id,
			         s->key, it->err.msg);
			(*failed)++;
			unflush(t, s, it->mono);
		}
		lf_head_free(&s->cold->flushing);
	}
	pthread_rwlock_unlock(&t->lock);
	free(refs);
}

static int cmp_size_desc(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Past ingester.max_head_bytes: the head size from which this pass cuts
 * heads early, chosen so that cutting this tenant's heads of at least that
 * size brings the heads down to 3/4 of the limit (or cuts all of its heads
 * when that is not enough). The largest heads go first: they make the
 * fullest chunks. 0 = under the limit (or no limit). */
static int64_t mem_cut_size(struct lf_tenant *t)
{
	int64_t lim = t->cfg->max_head_bytes;
	if (lim <= 0 || *t->heads <= lim)
		return 0;
	pthread_rwlock_rdlock(&t->lock);
	size_t n = 0, cap = t->active;
	size_t *v = cap ? malloc(cap * sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < t->n_streams && n < cap; i++)
		if (lf_head_n(&t->streams[i]->head))
			v[n++] = lf_head_held(&t->streams[i]->head);
	int64_t excess = *t->heads - lim / 4 * 3;
	pthread_rwlock_unlock(&t->lock);
	if (!v)
		return 1; /* no memory to choose: cut every head */
	qsort(v, n, sizeof(*v), cmp_size_desc);
	int64_t got = 0, cut = 1;
	for (size_t i = 0; i < n && got < excess; i++) {
		got += (int64_t)v[i];
		cut = v[i] ? (int64_t)v[i] : 1;
	}
	free(v);
	return cut;
}

void lf_tenant_share_head_bytes(struct lf_tenant *t, _Atomic int64_t *shared)
{
	pthread_rwlock_wrlock(&t->lock);
	*shared += *t->heads;
	*t->heads = 0;
	t->heads = shared;
	pthread_rwlock_unlock(&t->lock);
}

int lf_tenant_flush(struct lf_tenant *t, bool force)
{
	const struct lf_store_config *c = t->cfg;
	pthread_mutex_lock(&t->flush_mu);
	struct lf_buf *out = &t->chunk_out;
	int written = 0, failed = 0;
	struct flush_item *items = malloc(LF_FLUSH_BATCH * sizeof(*items));
	size_t n_items = 0, batch_bytes = 0;
	int64_t mem_cut = force ? 0 : mem_cut_size(t);
	/* Streams are cut one at a time, each chunk written as it is cut; the
	 * batch bounds how much cut head data waits for its commit (cutting
	 * every stream at once would double memory while the chunks are
	 * written). */
	for (size_t i = 0;; i++) {
		int64_t mono = lf_monotonic_ns();
		pthread_rwlock_wrlock(&t->lock);
		if (i >= t->n_streams) {
			pthread_rwlock_unlock(&t->lock);
			break;
		}
		struct lf_stream *s = t->streams[i];
		bool by_size = (int64_t)lf_head_raw(&s->head) >= c->chunk_target_size;
		bool by_mem = mem_cut && (int64_t)lf_head_held(&s->head) >= mem_cut;
		bool cut = lf_head_n(&s->head) &&
		           (force || by_size || by_mem ||
		            mono - s->head.m->last_mono >= c->chunk_idle_period ||
		            mono - s->head.m->first_mono >= c->max_chunk_age ||
		            lf_head_max(&s->head) - lf_head_min(&s->head) >= c->max_chunk_age);
		if (!cut) {
			pthread_rwlock_unlock(&t->lock);
			continue;
		}
		if (!items) {
			pthread_rwlock_unlock(&t->lock);
			lf_error("tenant %s: out of memory for the flush batch; will retry", t->id);
			failed++;
			break;
		}
		if (!stream_cold(t, s)) {
			pthread_rwlock_unlock(&t->lock);
			lf_error("tenant %s: out of memory cutting stream %s; will retry", t->id,
			         s->key);
			failed++;
			break;
		}
		/* the cut head moves as it is (the flushing head was freed by
		 * the last commit): an empty head holds no memory */
		s->cold->flushing = s->head;
		s->cold->flushing.flags = 0;
		memset(&s->head, 0, sizeof(s->head));
		*t->heads -= (int64_t)lf_head_held(&s->cold->flushing);
		s->cold->flushing_seg = s->head_seg;
		s->head_seg = UINT32_MAX;
		dup_clear(s);
		t->active--;
		if (n_items == 0) {
			struct lf_error berr;
			if (lf_index_batch_begin(t->ix, &berr) < 0) {
				/* Undo the cut: the head is retried on the next pass. */
				s->head = s->cold->flushing;
				memset(&s->cold->flushing, 0, sizeof(s->cold->flushing));
				s->head_seg = s->cold->flushing_seg;
				*t->heads += (int64_t)lf_head_held(&s->head);
				t->active++;
				pthread_rwlock_unlock(&t->lock);
				lf_error("tenant %s: %s; will retry", t->id, berr.msg);
				failed++;
				break;
			}
		}
		struct flush_item *it = &items[n_items++];
		*it = (struct flush_item){.s = s,
		                          .pos = lf_wal_end(t->wal),
		                          .mono = mono,
		                          .by_size = by_size,
		                          .fd = -1};
		batch_bytes += lf_head_held(&s->cold->flushing);
		pthread_rwlock_unlock(&t->lock);

		if (write_chunk_tmp(t, it, out) < 0 && it->fd >= 0) {
			close(it->fd);
			it->fd = -1;
		}
		if (n_items == LF_FLUSH_BATCH || batch_bytes >= LF_FLUSH_BATCH_BYTES) {
			commit_batch(t, items, n_items, &written, &failed);
			n_items = 0;
			batch_bytes = 0;
		}
	}
	if (n_items)
		commit_batch(t, items, n_items, &written, &failed);
	free(items);

	/* WAL checkpoint: segments older than every head's oldest record go. */
	uint32_t keep = lf_wal_segment(t->wal);
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < t->n_streams; i++)
		if (lf_head_n(&t->streams[i]->head) && t->streams[i]->head_seg < keep)
			keep = t->streams[i]->head_seg;
	pthread_rwlock_unlock(&t->lock);
	/* The chunks' renames and index rows must be durable before the WAL
	 * records they replace go (see index.c: synchronous=NORMAL). */
	int removed = 0;
	struct lf_error err;
	if (written &&
	    (lf_chunk_sync_dir(t->chunks_dir, &err) < 0 || lf_index_checkpoint(t->ix, &err) < 0)) {
		lf_error("tenant %s: %s; WAL segments kept until the next flush", t->id, err.msg);
		failed++;
	} else {
		removed = lf_wal_remove_before(t->wal, keep);
	}
	if (written || removed)
		lf_debug("tenant %s: flushed %d chunks (%" PRIu64
		         " built from sealed head blocks so far), removed %d wal segments",
		         t->id, written, t->chunks_reused, removed);
	pthread_mutex_unlock(&t->flush_mu);
	return failed ? -1 : written;
}

int lf_tenant_retention(struct lf_tenant *t, int64_t now_ns, int64_t period)
{
	if (period <= 0)
		return 0;
	int64_t cutoff; /* a period beyond now keeps everything (issue 17) */
	if (__builtin_sub_overflow(now_ns, period, &cutoff))
		cutoff = INT64_MIN;
	pthread_mutex_lock(&t->flush_mu);
	struct del_item {
		struct lf_chunk_ref r;
		int64_t series_id; /* the file's name needs it */
	} *del = NULL;
	size_t n = 0, cap = 0;
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		if (!s->cold->n_chunks)
			continue;
		size_t w = 0;
		for (size_t j = 0; j < s->cold->n_chunks; j++) {
			if (s->cold->chunks[j].through >= cutoff) {
				s->cold->chunks[w++] = s->cold->chunks[j];
				continue;
			}
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct del_item *v = realloc(del, nc * sizeof(*v));
				if (!v) {
					s->cold->chunks[w++] = s->cold->chunks[j];
					continue;
				}
				del = v;
				cap = nc;
			}
			del[n++] = (struct del_item){s->cold->chunks[j], s->series_id};
		}
		s->cold->n_chunks = w;
	}
	pthread_rwlock_unlock(&t->lock);
	for (size_t i = 0; i < n; i++) {
		struct lf_error err;
		if (lf_index_delete_chunk(t->ix, del[i].r.id, &err) < 0)
			lf_error("tenant %s: retention: %s", t->id, err.msg);
		else {
			char nb[LF_CHUNK_NAME_MAX], path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", t->chunks_dir,
			         lf_chunk_ref_name(del[i].series_id, &del[i].r, nb));
			if (unlink(path) < 0 && errno != ENOENT)
				lf_error("tenant %s: retention: unlink %s: %s", t->id, path,
				         strerror(errno));
		}
		free(del[i].r.file);
	}
	free(del);
	if (n) {
		const char *lv[] = {t->id};
		lf_metric_add(t->m->chunks_deleted, lv, (double)n);
		lf_info("tenant %s: retention deleted %zu chunks older than %" PRId64, t->id, n,
		        cutoff);
		struct lf_error err;
		if (lf_index_checkpoint(t->ix, &err) < 0)
			lf_error("tenant %s: retention: %s", t->id, err.msg);
	}
	pthread_mutex_unlock(&t->flush_mu);
	return (int)n;
}
