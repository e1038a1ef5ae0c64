/* positions.c — the positions file (Promtail's format + identity comments);
 * see positions.h. */
#include "positions.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"

#define ID_PREFIX "# logferry-id: "

struct pos_item {
	char *key;
	char *raw; /* non-file keys: the value as read, written back as is */
	bool is_file;
	struct lf_pos_entry e;
};

/* The background writer (lf_positions_save_async): one thread, started on
 * the first async save, writes the newest rendered snapshot; a snapshot
 * that was not written yet is replaced by a newer one (latest wins). */
struct pos_writer {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* work for the thread, or it went idle */
	struct lf_buf pending;  /* snapshot to write (has_pending) */
	bool has_pending, busy; /* busy: the thread is writing a snapshot */
	bool stop, started;
	bool failed; /* the last write failed: next save forces */
	pthread_t thread;
	struct lf_ratelimit rl;
};

struct lf_positions {
	char *filename;
	bool ignore_invalid_yaml;
	bool read_only;
	bool dirty;
	struct pos_writer w;
	/* Open addressing, linear probing; TOMB marks deleted slots. */
	struct pos_item **tab;
	size_t cap, used, live;
};

static struct pos_item TOMB_ITEM;
#define TOMB (&TOMB_ITEM)

static uint64_t hash_str(const char *s)
{
	return lf_pos_fingerprint(s, strlen(s));
}

uint64_t lf_pos_fingerprint(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool is_cursor_key(const char *k)
{
	return strncmp(k, "journal-", 8) == 0 || strncmp(k, "cursor-", 7) == 0;
}

static struct pos_item **find_slot(const struct lf_positions *p, const char *key)
{
	if (p->cap == 0)
		return NULL;
	size_t mask = p->cap - 1;
	for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
		struct pos_item *it = p->tab[i];
		if (!it)
			return NULL;
		if (it != TOMB && strcmp(it->key, key) == 0)
			return &p->tab[i];
	}
}

static int rehash(struct lf_positions *p, size_t ncap)
{
	struct pos_item **nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -1;
	for (size_t i = 0; i < p->cap; i++) {
		struct pos_item *it = p->tab[i];
		if (!it || it == TOMB)
			continue;
		size_t j = hash_str(it->key) & (ncap - 1);
		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = it;
	}
	free(p->tab);
	p->tab = nt;
	p->cap = ncap;
	p->used = p->live;
	return 0;
}

/* Returns the item for key, inserting an empty one when absent. */
static struct pos_item *upsert(struct lf_positions *p, const char *key, bool *created)
{
	struct pos_item **slot = find_slot(p, key);
	*created = false;
	if (slot)
		return *slot;
	if ((p->used + 1) * 4 >= p->cap * 3) {
		size_t ncap = p->cap ? p->cap : 16;
		while ((p->live + 1) * 2 >= ncap)
			ncap *= 2;
		if (rehash(p, ncap) < 0)
			return NULL;
	}
	struct pos_item *it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->key = strdup(key);
	if (!it->key) {
		free(it);
		return NULL;
	}
	size_t mask = p->cap - 1;
	size_t i = hash_str(key) & mask;
	while (p->tab[i] && p->tab[i] != TOMB)
		i = (i + 1) & mask;
	if (!p->tab[i])
		p->used++;
	p->tab[i] = it;
	p->live++;
	*created = true;
	return it;
}

static void item_free(struct pos_item *it)
{
	free(it->key);
	free(it->raw);
	free(it);
}

static void clear_all(struct lf_positions *p)
{
	for (size_t i = 0; i < p->cap; i++) {
		if (p->tab[i] && p->tab[i] != TOMB)
			item_free(p->tab[i]);
		p->tab[i] = NULL;
	}
	p->used = p->live = 0;
}

static void writer_stop(struct lf_positions *p);

void lf_positions_free(struct lf_positions *p)
{
	if (!p)
		return;
	writer_stop(p);
	clear_all(p);
	free(p->tab);
	free(p->filename);
	free(p);
}

bool lf_positions_get(const struct lf_positions *p, const char *path, struct lf_pos_entry *out)
{
	struct pos_item **slot = find_slot(p, path);
	if (!slot || !(*slot)->is_file)
		return false;
	if (out)
		*out = (*slot)->e;
	return true;
}

int lf_positions_put(struct lf_positions *p, const char *path, const struct lf_pos_entry *e)
{
	bool created;
	struct pos_item *it = upsert(p, path, &created);
	if (!it)
		return -1;
	if (created || !it->is_file || memcmp(&it->e, e, sizeof(*e)) != 0) {
		p->dirty = true;
		it->is_file = true;
		free(it->raw);
		it->raw = NULL;
		/* Copy field by field: padding must not make memcmp differ later. */
		memset(&it->e, 0, sizeof(it->e));
		it->e.offset = e->offset;
		it->e.has_id = e->has_id;
		it->e.dev = e->dev;
		it->e.ino = e->ino;
		it->e.size = e->size;
		it->e.fplen = e->fplen;
		it->e.fp = e->fp;
	}
	return 0;
}

const char *lf_positions_get_cursor(const struct lf_positions *p, const char *key)
{
	struct pos_item **slot = find_slot(p, key);
	if (!slot || (*slot)->is_file)
		return NULL;
	return (*slot)->raw;
}

int lf_positions_put_cursor(struct lf_positions *p, const char *key, const char *value)
{
	bool created;
	struct pos_item *it = upsert(p, key, &created);
	if (!it)
		return -1;
	if (created || it->is_file || !it->raw || strcmp(it->raw, value) != 0) {
		char *v = strdup(value);
		if (!v)
			return -1;
		free(it->raw);
		it->raw = v;
		it->is_file = false;
		p->dirty = true;
	}
	return 0;
}

void lf_positions_remove(struct lf_positions *p, const char *path)
{
	struct pos_item **slot = find_slot(p, path);
	if (!slot)
		return;
	item_free(*slot);
	*slot = TOMB;
	p->live--;
	p->dirty = true;
}

size_t lf_positions_count(const struct lf_positions *p)
{
	return p->live;
}

void lf_positions_foreach(const struct lf_positions *p,
                          int (*fn)(void *ctx, const char *path, const struct lf_pos_entry *e),
                          void *ctx)
{
	for (size_t i = 0; i < p->cap; i++) {
		struct pos_item *it = p->tab[i];
		if (!it || it == TOMB || !it->is_file)
			continue;
		if (fn(ctx, it->key, &it->e))
			return;
	}
}

/* ---- reading ---- */

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Applies "# logferry-id: dev=.. ino=.. size=.. fplen=.. fp=.. path=..."
 * comment lines to entries already read from the YAML. Malformed comments
 * are ignored (the entry is then trusted by path, as Promtail does). */
static void apply_id_comments(struct lf_positions *p, const char *text, size_t len)
{
	const char *end = text + len;
	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		size_t plen = strlen(ID_PREFIX);
		if ((size_t)(le - line) > plen && memcmp(line, ID_PREFIX, plen) == 0) {
			char tmp[PATH_MAX + 256];
			size_t n = (size_t)(le - line) - plen;
			if (n < sizeof(tmp)) {
				memcpy(tmp, line + plen, n);
				tmp[n] = 0;
				if (n > 0 && tmp[n - 1] == '\r')
					tmp[n - 1] = 0;
				unsigned long long dev, ino, size, fp;
				unsigned fplen;
				int off = -1;
				if (sscanf(tmp,
				           "dev=%llu ino=%llu size=%llu fplen=%u fp=%llx path=%n",
				           &dev, &ino, &size, &fplen, &fp, &off) == 5 &&
				    off > 0) {
					struct pos_item **slot = find_slot(p, tmp + off);
					if (slot && (*slot)->is_file && fplen <= LF_POS_FP_MAX) {
						struct lf_pos_entry *e = &(*slot)->e;
						e->has_id = true;
						e->dev = dev;
						e->ino = ino;
						e->size = size;
						e->fplen = fplen;
						e->fp = fp;
					}
				}
			}
		}
		line = nl ? nl + 1 : end;
	}
}

static int invalid(struct lf_error *err, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int invalid(struct lf_error *err, const char *name, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return lf_err(err, "invalid yaml positions file [%s]: %s", name, reason);
}

static int parse_doc(struct lf_positions *p, yaml_document_t *doc, const char *name,
                     struct lf_error *err)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root)
		return 0; /* empty document: no positions */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return invalid(err, name, "line %zu: the document is not a map",
		               root->start_mark.line + 1);
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(doc, pr->value);
		if (!k || k->type != YAML_SCALAR_NODE)
			return invalid(err, name, "line %zu: top-level key is not a scalar",
			               k ? k->start_mark.line + 1 : 0);
		if (strcmp((const char *)k->data.scalar.value, "positions") != 0) {
			/* Not ours and not Promtail's: keep going rather than
			 * refuse to start (it is dropped at the next save). */
			lf_warn("positions file [%s]: line %zu: ignoring unknown key \"%s\"", name,
			        k->start_mark.line + 1, (const char *)k->data.scalar.value);
			continue;
		}
		if (!v || (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0))
			continue; /* `positions:` with nothing */
		if (v->type != YAML_MAPPING_NODE)
			return invalid(err, name, "line %zu: positions is not a map",
			               v->start_mark.line + 1);
		for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
		     q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *pk = yaml_document_get_node(doc, q->key);
			yaml_node_t *pv = yaml_document_get_node(doc, q->value);
			if (!pk || pk->type != YAML_SCALAR_NODE || !pv ||
			    pv->type != YAML_SCALAR_NODE)
				return invalid(err, name,
				               "line %zu: positions entries must be scalars",
				               (pk ? pk->start_mark.line : 0) + 1);
			const char *key = (const char *)pk->data.scalar.value;
			const char *val = (const char *)pv->data.scalar.value;
			if (strlen(key) != pk->data.scalar.length || key[0] == 0)
				return invalid(err, name, "line %zu: invalid path key",
				               pk->start_mark.line + 1);
			bool created;
			struct pos_item *it = upsert(p, key, &created);
			if (!it)
				return lf_err(err, "positions file [%s]: out of memory", name);
			if (is_cursor_key(key)) {
				free(it->raw);
				it->raw = strdup(val);
				it->is_file = false;
				if (!it->raw)
					return lf_err(err, "positions file [%s]: out of memory",
					              name);
				continue;
			}
			uint64_t off;
			if (parse_u64(val, pv->data.scalar.length, &off) < 0)
				return invalid(err, name,
				               "line %zu: offset of \"%s\" is not a non-negative "
				               "integer: \"%s\"",
				               pv->start_mark.line + 1, key, val);
			it->is_file = true;
			memset(&it->e, 0, sizeof(it->e));
			it->e.offset = off;
		}
	}
	return 0;
}

int lf_positions_parse(struct lf_positions *p, const char *text, size_t len, const char *name,
                       struct lf_error *err)
{
	/* libyaml rejects most control characters, but a NUL-filled file (a
	 * common result of a node crash) deserves a clear reason. */
	if (memchr(text, 0, len))
		return invalid(err, name, "file contains NUL bytes (%zu bytes)", len);
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return lf_err(err, "positions file [%s]: out of memory", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int rc = invalid(err, name, "line %zu column %zu: %s", parser.problem_mark.line + 1,
		                 parser.problem_mark.column + 1,
		                 parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return rc;
	}
	int rc = parse_doc(p, &doc, name, err);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc == 0)
		apply_id_comments(p, text, len);
	else
		clear_all(p);
	return rc;
}

static int read_file(const char *path, char **out, size_t *out_len, struct lf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*out = NULL;
			*out_len = 0;
			return 1;
		}
		return lf_err(err, "open positions file %s: %s", path, strerror(errno));
	}
	struct lf_buf b = LF_BUF_INIT;
	for (;;) {
		if (lf_buf_reserve(&b, 65536) < 0) {
			close(fd);
			lf_buf_free(&b);
			return lf_err(err, "read positions file %s: out of memory", path);
		}
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			lf_buf_free(&b);
			return lf_err(err, "read positions file %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	close(fd);
	*out_len = b.len;
	*out = lf_buf_take(&b);
	return 0;
}

int lf_positions_open(const struct lf_positions_opts *opts, struct lf_positions **out,
                      struct lf_error *err)
{
	struct lf_positions *p = calloc(1, sizeof(*p));
	if (!p)
		return lf_err(err, "positions: out of memory");
	p->filename = strdup(opts->filename ? opts->filename : "");
	p->ignore_invalid_yaml = opts->ignore_invalid_yaml;
	p->read_only = opts->read_only;
	if (!p->filename) {
		free(p);
		return lf_err(err, "positions: out of memory");
	}
	char *text = NULL;
	size_t len = 0;
	int rc = p->filename[0] ? read_file(p->filename, &text, &len, err) : 1;
	if (rc < 0) {
		lf_positions_free(p);
		return -1;
	}
	if (rc == 0) {
		struct lf_error perr;
		if (lf_positions_parse(p, text ? text : "", len, p->filename, &perr) < 0) {
			if (!p->ignore_invalid_yaml) {
				free(text);
				lf_positions_free(p);
				return lf_err(err, "%s", perr.msg);
			}
			lf_warn("ignoring invalid positions file (ignore_invalid_yaml): %s",
			        perr.msg);
			/* Rewrite it at the next save even if nothing changes. */
			p->dirty = true;
		}
	}
	free(text);
	*out = p;
	return 0;
}

/* ---- writing ---- */

/* A YAML plain scalar is safe when it only holds these characters and does
 * not start with one that means something else in YAML. */
static bool plain_ok(const char *s)
{
	if (!*s || strchr("-?:,[]{}#&*!|>'\"%@` ~", *s))
		return false;
	for (const char *c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (!((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
		      strchr("/._-+=@,~", u)))
			return false;
	}
	/* Keys that YAML would read as something other than a string. */
	static const char *const special[] = {
	        "true", "false", "null",  "yes", "no", "on", "off", "True", "False", "Null",
	        "NULL", "TRUE",  "FALSE", "Yes", "No", "On", "Off", "y",    "n",     NULL};
	for (int i = 0; special[i]; i++)
		if (strcmp(s, special[i]) == 0)
			return false;
	return true;
}

static int append_yaml_str(struct lf_buf *b, const char *s, bool allow_plain)
{
	if (allow_plain && plain_ok(s))
		return lf_buf_appends(b, s);
	if (lf_buf_putc(b, '"') < 0)
		return -1;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		int rc;
		if (*c == '"' || *c == '\\')
			rc = lf_buf_printf(b, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			rc = lf_buf_printf(b, "\\x%02x", *c);
		else
			rc = lf_buf_putc(b, (char)*c);
		if (rc < 0)
			return -1;
	}
	return lf_buf_putc(b, '"');
}

static int cmp_items(const void *a, const void *b)
{
	const struct pos_item *x = *(const struct pos_item *const *)a;
	const struct pos_item *y = *(const struct pos_item *const *)b;
	return strcmp(x->key, y->key);
}

/* Renders the document: identity comments first, then Promtail's map,
 * sorted by key as yaml.v2 writes maps. */
static int render(const struct lf_positions *p, struct lf_buf *b)
{
	struct pos_item **v = malloc((p->live ? p->live : 1) * sizeof(*v));
	if (!v)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < p->cap; i++)
		if (p->tab[i] && p->tab[i] != TOMB)
			v[n++] = p->tab[i];
	qsort(v, n, sizeof(*v), cmp_items);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct pos_item *it = v[i];
		if (!it->is_file || !it->e.has_id || strpbrk(it->key, "\r\n"))
			continue;
		rc = lf_buf_printf(b,
		                   ID_PREFIX "dev=%" PRIu64 " ino=%" PRIu64 " size=%" PRIu64
		                             " fplen=%u fp=%016" PRIx64 " path=%s\n",
		                   it->e.dev, it->e.ino, it->e.size, it->e.fplen, it->e.fp,
		                   it->key);
	}
	if (rc == 0)
		rc = lf_buf_appends(b, n ? "positions:\n" : "positions: {}\n");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct pos_item *it = v[i];
		rc = lf_buf_appends(b, "  ");
		if (rc == 0)
			rc = append_yaml_str(b, it->key, true);
		if (rc == 0)
			rc = lf_buf_appends(b, ": ");
		if (rc == 0) {
			if (it->is_file)
				rc = lf_buf_printf(b, "\"%" PRIu64 "\"", it->e.offset);
			else
				rc = append_yaml_str(b, it->raw ? it->raw : "", false);
		}
		if (rc == 0)
			rc = lf_buf_putc(b, '\n');
	}
	free(v);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p of the directory part of path (mode 0750). */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -1;
	*slash = 0;
	for (char *c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -1;
		*c = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Writes a rendered document atomically: temp file, fsync, rename, fsync of
 * the directory. Errors name the file. */
static int write_file(const char *filename, const struct lf_buf *b, struct lf_error *err)
{
	struct lf_buf tmp = LF_BUF_INIT;
	if (lf_buf_printf(&tmp, "%s.tmpXXXXXX", filename) < 0)
		return lf_err(err, "write positions file %s: out of memory", filename);
	int fd = mkostemp(tmp.data, O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mkdir_parents(filename) == 0) {
		/* First save into a directory that does not exist yet (a fresh
		 * hostPath): create it, as an agent starting on a new node must. */
		lf_buf_reset(&tmp);
		lf_buf_printf(&tmp, "%s.tmpXXXXXX", filename);
		fd = mkostemp(tmp.data, O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		lf_buf_free(&tmp);
		return lf_err(err, "create temp file for positions file %s: %s", filename,
		              strerror(e));
	}
	const char *step = "write";
	if (fchmod(fd, 0600) < 0)
		step = "chmod";
	else if (write_all(fd, b->data, b->len) < 0)
		step = "write";
	else if (fsync(fd) < 0)
		step = "fsync";
	else
		step = NULL;
	int e = errno;
	if (close(fd) < 0 && !step) {
		step = "close";
		e = errno;
	}
	if (!step && rename(tmp.data, filename) < 0) {
		step = "rename";
		e = errno;
	}
	if (step) {
		unlink(tmp.data);
		lf_buf_free(&tmp);
		return lf_err(err, "%s positions file %s: %s", step, filename, strerror(e));
	}
	/* fsync the directory so the rename itself survives a crash. */
	const char *slash = strrchr(filename, '/');
	lf_buf_reset(&tmp);
	if (slash == filename)
		lf_buf_appends(&tmp, "/");
	else if (slash)
		lf_buf_append(&tmp, filename, (size_t)(slash - filename));
	else
		lf_buf_appends(&tmp, ".");
	int dfd = open(tmp.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			lf_warn("fsync directory %s of positions file: %s", tmp.data,
			        strerror(errno));
		close(dfd);
	}
	lf_buf_free(&tmp);
	return 0;
}

static void *writer_main(void *arg)
{
	struct lf_positions *p = arg;
	struct pos_writer *w = &p->w;
	struct lf_buf b = LF_BUF_INIT;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->has_pending && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->has_pending)
			break; /* stopping, nothing left to write */
		struct lf_buf t = w->pending;
		w->pending = b;
		b = t;
		w->has_pending = false;
		w->busy = true;
		pthread_mutex_unlock(&w->mu);
		struct lf_error err;
		int rc = write_file(p->filename, &b, &err);
		if (rc < 0)
			lf_log_rl(&w->rl, LF_LOG_ERROR, "%s", err.msg);
		lf_buf_reset(&b);
		pthread_mutex_lock(&w->mu);
		w->busy = false;
		if (rc < 0)
			w->failed = true;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	lf_buf_free(&b);
	return NULL;
}

/* Waits until the writer has no snapshot pending or being written. */
void lf_positions_wait_written(struct lf_positions *p)
{
	struct pos_writer *w = &p->w;
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->has_pending || w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void writer_stop(struct lf_positions *p)
{
	struct pos_writer *w = &p->w;
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true; /* the thread writes what is pending first */
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	lf_buf_free(&w->pending);
	w->started = false;
}

int lf_positions_save(struct lf_positions *p, bool force, struct lf_error *err)
{
	if (p->read_only || !p->filename[0])
		return 0;
	/* An async snapshot still being written would otherwise be renamed
	 * over this newer one. */
	lf_positions_wait_written(p);
	if (!p->dirty && !force)
		return 0;
	struct lf_buf b = LF_BUF_INIT;
	if (render(p, &b) < 0) {
		lf_buf_free(&b);
		return lf_err(err, "write positions file %s: out of memory", p->filename);
	}
	int rc = write_file(p->filename, &b, err);
	lf_buf_free(&b);
	if (rc == 0)
		p->dirty = false;
	return rc;
}

int lf_positions_save_async(struct lf_positions *p, bool force, struct lf_error *err)
{
	if (p->read_only || !p->filename[0])
		return 0;
	struct pos_writer *w = &p->w;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		if (w->failed)
			force = true; /* the last write did not make it */
		w->failed = false;
		pthread_mutex_unlock(&w->mu);
	}
	if (!p->dirty && !force)
		return 0;
	if (!w->started) {
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		w->rl.interval_ns = 10 * LF_NS_PER_SEC;
		int r = pthread_create(&w->thread, NULL, writer_main, p);
		if (r != 0) {
			pthread_mutex_destroy(&w->mu);
			pthread_cond_destroy(&w->cv);
			lf_warn("positions file %s: cannot start its writer thread (%s); "
			        "writing it synchronously",
			        p->filename, strerror(r));
			return lf_positions_save(p, force, err);
		}
		w->started = true;
	}
	pthread_mutex_lock(&w->mu);
	lf_buf_reset(&w->pending);
	int rc = render(p, &w->pending);
	if (rc == 0) {
		w->has_pending = true;
		p->dirty = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (rc < 0)
		return lf_err(err, "write positions file %s: out of memory", p->filename);
	return 0;
}
