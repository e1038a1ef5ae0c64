/* syslog.c — the `syslog` source: Promtail's syslog target (RFC 5424, or
 * RFC 3164 with syslog_format: rfc3164) over TCP or UDP.
 *
 * One listener thread per source (epoll over the listening socket, the
 * connections, a stop eventfd and the queue's space eventfd) parses
 * messages (syslog_parse.h), builds each entry's labels (config labels +
 * __syslog_* meta labels -> relabel_configs -> `__*` drop) and commits
 * them in batches to a bounded srcq; the event loop delivers them.
 *
 * Memory: a connection keeps at most one partial frame (<= max_message_length
 * + 32 bytes); reading goes through one 64 KiB buffer per thread. A newline
 * line longer than max_message_length is skipped to its '\n' (counted, the
 * connection stays open); a too long octet count closes the connection.
 * Connections beyond MAX_CONNS are refused (closed at accept).
 * Backpressure: when the queue refuses a batch, the thread stops reading TCP
 * connections (the kernel buffers hold the rest, then senders block) until
 * the loop took records; UDP datagrams read meanwhile are dropped and
 * counted (logferry_syslog_udp_dropped_total).
 * TLS (tls_config, TCP only): cert_file + key_file make the listener speak
 * TLS (OpenSSL, non-blocking handshake); ca_file also requires and verifies
 * client certificates. A failed handshake closes that connection only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sources.h"
#include "srcq.h"
#include "syslog_parse.h"
#include "timeutil.h"

#define MAX_CONNS   4096
#define READ_SZ     (64 * 1024)
#define QUEUE_BYTES (4u << 20)

struct conn {
	int fd;
	struct lf_buf pending; /* partial frame */
	struct lf_syslog_framer fr;
	char ip[64];     /* __syslog_connection_ip_address */
	char host[256];  /* __syslog_connection_hostname */
	int64_t last_ns; /* monotonic time of the last read */
	bool udp;
	SSL *ssl;       /* TLS connections */
	bool handshake; /* TLS handshake not finished */
};

struct syslog_src {
	struct lf_source base;
	char *job;
	char *listen_address;
	bool udp, rfc3164, label_sd, use_incoming_ts, use_rfc5424_message;
	int64_t idle_timeout_ns;
	size_t max_len;
	char *tls_cert, *tls_key, *tls_ca;
	SSL_CTX *tls;
	struct lf_labels labels;
	struct lf_relabel *relabel;
	struct lf_source_sink sink;

	int lfd, stop_fd, ep;
	char bound[128]; /* host:port actually listened on */
	pthread_t th;
	bool started;
	struct lf_srcq *q;

	/* thread side */
	struct conn **conns;
	size_t n_conns;
	bool blocked;
	struct lf_buf batch;
	struct lf_labels ls;
	char *rbuf;
	char *sdbuf;
	struct lf_ratelimit rl;

	/* loop side */
	struct lf_srcq_reader rd;

	atomic_uint_fast64_t n_entries, n_parse_err, n_empty, n_udp_dropped, n_conns_pub,
	        n_too_long;
	struct lf_metric_family *m_entries, *m_parse, *m_empty, *m_dropped, *m_conns;
};

/* ---------- config ---------- */

static const char *const keys[] = {"listen_address",
                                   "listen_protocol",
                                   "idle_timeout",
                                   "label_structured_data",
                                   "labels",
                                   "use_incoming_timestamp",
                                   "use_rfc5424_message",
                                   "max_message_length",
                                   "syslog_format",
                                   "tls_config",
                                   NULL};
static const char *const tls_keys[] = {
        "cert_file", "key_file", "ca_file", "server_name", "insecure_skip_verify", NULL};

static void src_free(struct lf_source *base);

static int parse_cfg(struct syslog_src *s, const struct lf_source_env *env, struct lf_error *err)
{
	const struct lf_ynode *b = env->block;
	const char *P = env->path;
	if (lf_ymap_check(b, P, keys, err) < 0)
		return -1;
	if (lf_ymap_str(b, P, "listen_address", &s->listen_address, err) < 0)
		return -1;
	if (!s->listen_address || !s->listen_address[0])
		return lf_y_err(err, b, P, "a listen_address is required");
	char *proto = NULL, *fmt = NULL;
	if (lf_ymap_str(b, P, "listen_protocol", &proto, err) < 0)
		return -1;
	if (proto && proto[0] && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
		lf_y_err(err, lf_ymap_get(b, "listen_protocol"), P,
		         "invalid transport protocol. expected 'tcp' or 'udp', got '%s'", proto);
		free(proto);
		return -1;
	}
	s->udp = proto && strcmp(proto, "udp") == 0;
	free(proto);
	if (lf_ymap_str(b, P, "syslog_format", &fmt, err) < 0)
		return -1;
	if (fmt && fmt[0] && strcmp(fmt, "rfc5424") != 0 && strcmp(fmt, "rfc3164") != 0) {
		lf_y_err(err, lf_ymap_get(b, "syslog_format"), P,
		         "invalid syslog_format \"%s\" (rfc5424 or rfc3164)", fmt);
		free(fmt);
		return -1;
	}
	s->rfc3164 = fmt && strcmp(fmt, "rfc3164") == 0;
	free(fmt);
	s->idle_timeout_ns = 120 * LF_NS_PER_SEC;
	int64_t maxlen = 8192;
	if (lf_ymap_duration(b, P, "idle_timeout", &s->idle_timeout_ns, err) < 0 ||
	    lf_ymap_bool(b, P, "label_structured_data", &s->label_sd, err) < 0 ||
	    lf_ymap_bool(b, P, "use_incoming_timestamp", &s->use_incoming_ts, err) < 0 ||
	    lf_ymap_bool(b, P, "use_rfc5424_message", &s->use_rfc5424_message, err) < 0 ||
	    lf_ymap_int(b, P, "max_message_length", &maxlen, err) < 0)
		return -1;
	if (maxlen <= 0 || maxlen > (64 << 20))
		return lf_y_err(err, lf_ymap_get(b, "max_message_length"), P,
		                "max_message_length must be in 1..67108864, got %lld",
		                (long long)maxlen);
	s->max_len = (size_t)maxlen;
	const struct lf_ynode *tls = lf_ymap_get(b, "tls_config");
	if (tls && tls->kind != LF_Y_NULL) {
		char tp[300];
		snprintf(tp, sizeof tp, "%s.tls_config", P);
		if (tls->kind != LF_Y_MAP)
			return lf_y_err(err, tls, tp, "expected a map");
		if (lf_ymap_check(tls, tp, tls_keys, err) < 0)
			return -1;
		if (lf_ymap_str(tls, tp, "cert_file", &s->tls_cert, err) < 0 ||
		    lf_ymap_str(tls, tp, "key_file", &s->tls_key, err) < 0 ||
		    lf_ymap_str(tls, tp, "ca_file", &s->tls_ca, err) < 0)
			return -1;
		bool any = (s->tls_cert && s->tls_cert[0]) || (s->tls_key && s->tls_key[0]) ||
		           (s->tls_ca && s->tls_ca[0]);
		if (any && (!s->tls_cert || !s->tls_cert[0] || !s->tls_key || !s->tls_key[0]))
			return lf_y_err(err, tls, tp,
			                "certificate and key files are required when TLS is "
			                "configured");
		if (any && s->udp)
			return lf_y_err(err, tls, tp,
			                "TLS is only supported with listen_protocol tcp");
	}
	if (lf_source_labels(b, P, &s->labels, err) < 0)
		return -1;
	return lf_source_relabel_new(env->scrape, env->path, &s->relabel, err);
}

/* ---------- thread side ---------- */

static void conn_close(struct syslog_src *s, size_t i)
{
	struct conn *c = s->conns[i];
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	lf_buf_free(&c->pending);
	free(c);
	s->conns[i] = s->conns[--s->n_conns];
	atomic_store(&s->n_conns_pub, s->n_conns);
}

static void add_label(struct lf_labels *ls, const char *name, struct lf_slice v)
{
	if (v.p && v.n)
		lf_labels_setn(ls, name, strlen(name), v.p, v.n);
}

/* Turns one framed message into a record in the batch. */
static void on_message(struct syslog_src *s, struct conn *c, const char *p, size_t n,
                       int64_t now_ns)
{
	struct lf_syslog_msg m;
	const char *why = "";
	int rc = s->rfc3164 ? lf_syslog_parse_3164(p, n, now_ns, &m, &why)
	                    : lf_syslog_parse_5424(p, n, &m, &why);
	if (rc < 0) {
		atomic_fetch_add(&s->n_parse_err, 1);
		lf_log_rl(&s->rl, LF_LOG_WARN, "syslog %s: error parsing syslog stream from %s: %s",
		          s->job, c->ip, why);
		return;
	}
	if (!m.msg.p || m.msg.n == 0) {
		atomic_fetch_add(&s->n_empty, 1);
		return;
	}
	struct lf_labels *ls = &s->ls;
	if (lf_labels_copy(ls, &s->labels) < 0)
		return;
	lf_labels_set(ls, "__syslog_connection_ip_address", c->ip);
	if (c->host[0])
		lf_labels_set(ls, "__syslog_connection_hostname", c->host);
	lf_labels_set(ls, "__syslog_message_severity", lf_syslog_severity_name(m.severity));
	lf_labels_set(ls, "__syslog_message_facility", lf_syslog_facility_name(m.facility));
	add_label(ls, "__syslog_message_hostname", m.hostname);
	add_label(ls, "__syslog_message_app_name", m.app_name);
	add_label(ls, "__syslog_message_proc_id", m.proc_id);
	add_label(ls, "__syslog_message_msg_id", m.msg_id);
	if (s->label_sd && m.sd.p) {
		struct lf_syslog_sd_iter it;
		struct lf_slice id, name, val;
		lf_syslog_sd_iter_init(&it, m.sd);
		char nm[256];
		while (lf_syslog_sd_next(&it, &id, &name, &val) == 1) {
			int k = snprintf(nm, sizeof nm, "__syslog_message_sd_%.*s_%.*s", (int)id.n,
			                 id.p, (int)name.n, name.p);
			if (k <= 0 || (size_t)k >= sizeof nm)
				continue;
			for (char *q = nm; *q; q++)
				if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
				      (*q >= '0' && *q <= '9') || *q == '_'))
					*q = '_';
			size_t vl = lf_syslog_sd_unescape(val, s->sdbuf);
			lf_labels_setn(ls, nm, strlen(nm), s->sdbuf, vl);
		}
	}
	if (!lf_source_finish_labels(s->relabel, ls))
		return;
	int64_t ts = s->use_incoming_ts && m.has_ts ? m.ts_ns : lf_now_ns();
	const char *line = m.msg.p;
	size_t len = m.msg.n;
	if (s->use_rfc5424_message) {
		line = p;
		len = n;
	}
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (lf_srcq_rec_append(&s->batch, ts, ls, NULL, line, len) == 0)
		atomic_fetch_add(&s->n_entries, 1);
}

/* Feeds bytes of a connection through its framer. Returns -1 when the
 * connection must be closed. */
static int feed(struct syslog_src *s, struct conn *c, const char *data, size_t len, bool eof,
                int64_t now_ns)
{
	const char *buf = data;
	size_t n = len;
	if (c->pending.len) {
		if (lf_buf_append(&c->pending, data, len) < 0)
			return -1;
		buf = c->pending.data;
		n = c->pending.len;
	}
	size_t pos = 0;
	for (;;) {
		const char *msg;
		size_t ml, used;
		const char *why = "";
		uint64_t tl = c->fr.too_long;
		enum lf_frame_rc rc = lf_syslog_frame_next(&c->fr, buf + pos, n - pos, eof, &msg,
		                                           &ml, &used, &why);
		if (c->fr.too_long != tl) {
			atomic_fetch_add(&s->n_too_long, 1);
			atomic_fetch_add(&s->n_parse_err, 1);
			lf_log_rl(&s->rl, LF_LOG_WARN,
			          "syslog %s: message from %s longer than max_message_length %zu "
			          "skipped",
			          s->job, c->ip, s->max_len);
		}
		if (rc == LF_FRAME_ERR) {
			atomic_fetch_add(&s->n_parse_err, 1);
			lf_log_rl(&s->rl, LF_LOG_WARN, "syslog %s: closing connection from %s: %s",
			          s->job, c->ip, why);
			return -1;
		}
		if (rc == LF_FRAME_MSG)
			on_message(s, c, msg, ml, now_ns);
		pos += used;
		if (rc == LF_FRAME_MORE && used == 0)
			break;
		if (pos >= n)
			break;
	}
	/* keep the partial frame */
	if (c->pending.len) {
		memmove(c->pending.data, c->pending.data + pos, n - pos);
		c->pending.len = n - pos;
	} else if (pos < n && lf_buf_append(&c->pending, buf + pos, n - pos) < 0) {
		return -1;
	}
	/* a pending buffer that grew for a long frame gives its memory back */
	if (c->pending.len == 0 && c->pending.cap > 64 * 1024)
		lf_buf_free(&c->pending);
	return 0;
}

static void set_conn_events(struct syslog_src *s, uint32_t ev)
{
	for (size_t i = 0; i < s->n_conns; i++) {
		struct epoll_event e = {.events = ev, .data.ptr = s->conns[i]};
		epoll_ctl(s->ep, EPOLL_CTL_MOD, s->conns[i]->fd, &e);
	}
}

static void commit(struct syslog_src *s)
{
	if (!s->batch.len)
		return;
	if (lf_srcq_commit(s->q, &s->batch) < 0 && !s->blocked) {
		s->blocked = true;
		if (!s->udp)
			set_conn_events(s, 0);
	}
}

static void peer_names(struct conn *c, const struct sockaddr_storage *sa, socklen_t sl, bool lookup)
{
	char ip[INET6_ADDRSTRLEN] = "", port[16] = "";
	getnameinfo((const struct sockaddr *)sa, sl, ip, sizeof ip, port, sizeof port,
	            NI_NUMERICHOST | NI_NUMERICSERV);
	if (c->udp)
		snprintf(c->ip, sizeof c->ip, sa->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip,
		         port);
	else
		snprintf(c->ip, sizeof c->ip, "%s", ip);
	c->host[0] = 0;
	if (lookup) {
		char h[NI_MAXHOST];
		if (getnameinfo((const struct sockaddr *)sa, sl, h, sizeof h, NULL, 0,
		                NI_NAMEREQD) == 0)
			snprintf(c->host, sizeof c->host, "%s.", h); /* Go's trailing dot */
	}
}

static void do_accept(struct syslog_src *s, int64_t now)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->n_conns >= MAX_CONNS) {
			lf_log_rl(&s->rl, LF_LOG_WARN,
			          "syslog %s: %d connections open, refusing another", s->job,
			          MAX_CONNS);
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		struct conn **nv = realloc(s->conns, (s->n_conns + 1) * sizeof *nv);
		if (!c || !nv) {
			free(c);
			if (nv)
				s->conns = nv;
			close(fd);
			continue;
		}
		s->conns = nv;
		c->fd = fd;
		c->last_ns = now;
		lf_syslog_framer_init(&c->fr, s->max_len);
		peer_names(c, &sa, sl, true);
		if (s->tls) {
			c->ssl = SSL_new(s->tls);
			if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
				if (c->ssl)
					SSL_free(c->ssl);
				close(fd);
				free(c);
				continue;
			}
			SSL_set_accept_state(c->ssl);
			c->handshake = true;
		}
		struct epoll_event ev = {.events = s->blocked ? 0 : EPOLLIN, .data.ptr = c};
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		s->conns[s->n_conns++] = c;
		atomic_store(&s->n_conns_pub, s->n_conns);
	}
}

static size_t conn_index(struct syslog_src *s, struct conn *c)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i] == c)
			return i;
	return SIZE_MAX;
}

static void do_read(struct syslog_src *s, struct conn *c, int64_t now)
{
	/* one read per wakeup and connection: a fast client cannot starve
	 * the others, and the batch stays bounded */
	ssize_t r;
	if (c->ssl) {
		if (c->handshake) {
			int h = SSL_do_handshake(c->ssl);
			if (h != 1) {
				int e = SSL_get_error(c->ssl, h);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					struct epoll_event ev = {.events = e == SSL_ERROR_WANT_WRITE
					                                           ? EPOLLOUT
					                                           : EPOLLIN,
					                         .data.ptr = c};
					epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
					return;
				}
				char eb[160];
				ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
				ERR_clear_error();
				lf_log_rl(&s->rl, LF_LOG_WARN,
				          "syslog %s: TLS handshake with %s: %s", s->job, c->ip,
				          eb);
				size_t i = conn_index(s, c);
				if (i != SIZE_MAX)
					conn_close(s, i);
				return;
			}
			c->handshake = false;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
			epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		int n = SSL_read(c->ssl, s->rbuf, READ_SZ);
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			ERR_clear_error();
		}
		r = n > 0 ? n : 0;
	} else {
		r = read(c->fd, s->rbuf, READ_SZ);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	bool eof = r <= 0;
	c->last_ns = now;
	int rc = feed(s, c, s->rbuf, r > 0 ? (size_t)r : 0, eof, lf_now_ns());
	if (eof || rc < 0) {
		size_t i = conn_index(s, c);
		if (i != SIZE_MAX)
			conn_close(s, i);
	}
}

static void do_udp(struct syslog_src *s)
{
	struct conn c = {.udp = true};
	for (int k = 0; k < 256; k++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		ssize_t r = recvfrom(s->lfd, s->rbuf, s->max_len, MSG_TRUNC, (struct sockaddr *)&sa,
		                     &sl);
		if (r < 0)
			return;
		if (s->blocked) {
			atomic_fetch_add(&s->n_udp_dropped, 1);
			continue;
		}
		size_t n = (size_t)r > s->max_len ? s->max_len : (size_t)r;
		peer_names(&c, &sa, sl, false);
		lf_syslog_framer_init(&c.fr, s->max_len);
		const char *p = s->rbuf;
		if (n && p[0] >= '0' && p[0] <= '9') {
			/* octet-counted frames inside the datagram */
			size_t pos = 0;
			while (pos < n) {
				const char *msg, *why;
				size_t ml, used;
				enum lf_frame_rc rc = lf_syslog_frame_next(
				        &c.fr, p + pos, n - pos, true, &msg, &ml, &used, &why);
				if (rc != LF_FRAME_MSG) {
					atomic_fetch_add(&s->n_parse_err, 1);
					break;
				}
				on_message(s, &c, msg, ml, lf_now_ns());
				pos += used;
			}
		} else {
			while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == 0))
				n--;
			if (n)
				on_message(s, &c, p, n, lf_now_ns());
		}
		commit(s);
	}
}

static void publish(struct syslog_src *s);

static void *thread_main(void *arg)
{
	struct syslog_src *s = arg;
	struct epoll_event evs[64];
	int64_t next_idle = lf_monotonic_ns() + LF_NS_PER_SEC;
	int64_t next_pub = 0;
	for (;;) {
		int n = epoll_wait(s->ep, evs, 64, 1000);
		int64_t now = lf_monotonic_ns();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->stop_fd)
				goto out;
			if (p == &s->q) { /* space */
				uint64_t v;
				ssize_t rr = read(lf_srcq_space_fd(s->q), &v, sizeof v);
				(void)rr;
				if (s->blocked &&
				    (!s->batch.len || lf_srcq_commit(s->q, &s->batch) == 0)) {
					s->blocked = false;
					if (!s->udp)
						set_conn_events(s, EPOLLIN);
					/* plaintext already inside OpenSSL fires no event */
					for (size_t k = 0; k < s->n_conns && s->tls; k++)
						if (s->conns[k]->ssl &&
						    SSL_pending(s->conns[k]->ssl) > 0)
							do_read(s, s->conns[k], now);
				}
				continue;
			}
			if (p == &s->lfd) {
				if (s->udp)
					do_udp(s);
				else
					do_accept(s, now);
				continue;
			}
			if (!s->blocked)
				do_read(s, p, now);
		}
		if (!s->blocked)
			commit(s);
		if (now >= next_pub) { /* also while the loop is paused */
			publish(s);
			next_pub = now + 100 * LF_NS_PER_MS;
		}
		if (now >= next_idle && !s->udp && s->idle_timeout_ns > 0) {
			for (size_t i = 0; i < s->n_conns;) {
				if (now - s->conns[i]->last_ns > s->idle_timeout_ns && !s->blocked)
					conn_close(s, i);
				else
					i++;
			}
			next_idle = now + LF_NS_PER_SEC;
		}
	}
out:
	return NULL;
}

static int listen_on(struct syslog_src *s, struct lf_error *err)
{
	/* host:port, [v6]:port, :port */
	char host[256], port[32];
	const char *a = s->listen_address;
	const char *colon = strrchr(a, ':');
	if (!colon)
		return lf_err(err, "syslog: listen_address \"%s\": missing port", a);
	size_t hl = (size_t)(colon - a);
	if (hl >= 2 && a[0] == '[' && a[hl - 1] == ']') {
		a++;
		hl -= 2;
	}
	if (hl >= sizeof host || strlen(colon + 1) >= sizeof port)
		return lf_err(err, "syslog: listen_address \"%s\" too long", s->listen_address);
	memcpy(host, a, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = s->udp ? SOCK_DGRAM : SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE},
	                *res;
	int rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return lf_err(err, "syslog: listen_address \"%s\": %s", s->listen_address,
		              gai_strerror(rc));
	int fd = -1;
	int e = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && (s->udp || listen(fd, 1024) == 0))
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return lf_err(err, "syslog: listen on %s/%s: %s", s->listen_address,
		              s->udp ? "udp" : "tcp", strerror(e ? e : EADDRNOTAVAIL));
	if (s->udp) {
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	char h[INET6_ADDRSTRLEN] = "", p[16] = "";
	getnameinfo((struct sockaddr *)&sa, sl, h, sizeof h, p, sizeof p,
	            NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(s->bound, sizeof s->bound, "%s:%s", h, p);
	s->lfd = fd;
	return 0;
}

static int src_create(const struct lf_source_env *env, bool check_only, struct lf_source **out,
                      struct lf_error *err)
{
	struct syslog_src *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->base.ops = &lf_syslog_source_ops;
	s->lfd = s->stop_fd = s->ep = -1;
	s->rl.interval_ns = 5 * LF_NS_PER_SEC;
	lf_srcq_reader_init(&s->rd);
	*out = &s->base;
	if (!(s->job = strdup(env->job_name)))
		return lf_err(err, "out of memory");
	if (parse_cfg(s, env, err) < 0)
		return -1;
	if (check_only)
		return 0;
	s->sink = env->sink;
	s->q = lf_srcq_new(QUEUE_BYTES);
	s->rbuf = malloc(READ_SZ > s->max_len ? READ_SZ : s->max_len);
	s->sdbuf = malloc(s->max_len + 1);
	if (!s->q || !s->rbuf || !s->sdbuf)
		return lf_err(err, "out of memory");
	if (s->tls_cert && s->tls_cert[0]) {
		s->tls = SSL_CTX_new(TLS_server_method());
		if (!s->tls)
			return lf_err(err, "%s.tls_config: SSL_CTX_new failed", env->path);
		SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
		if (SSL_CTX_use_certificate_chain_file(s->tls, s->tls_cert) != 1)
			return lf_err(err, "%s.tls_config: loading cert_file %s failed", env->path,
			              s->tls_cert);
		if (SSL_CTX_use_PrivateKey_file(s->tls, s->tls_key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(s->tls) != 1)
			return lf_err(err, "%s.tls_config: loading key_file %s failed", env->path,
			              s->tls_key);
		if (s->tls_ca && s->tls_ca[0]) {
			if (SSL_CTX_load_verify_locations(s->tls, s->tls_ca, NULL) != 1)
				return lf_err(err, "%s.tls_config: loading ca_file %s failed",
				              env->path, s->tls_ca);
			SSL_CTX_set_verify(s->tls,
			                   SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		}
		ERR_clear_error();
	}
	if (listen_on(s, err) < 0)
		return -1;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->ep < 0 || s->stop_fd < 0)
		return lf_err(err, "syslog: %s", strerror(errno));
	struct epoll_event e1 = {.events = EPOLLIN, .data.ptr = &s->stop_fd};
	struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = &s->lfd};
	struct epoll_event e3 = {.events = EPOLLIN, .data.ptr = &s->q};
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stop_fd, &e1) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &e2) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, lf_srcq_space_fd(s->q), &e3) < 0)
		return lf_err(err, "syslog: epoll_ctl: %s", strerror(errno));
	if (env->metrics) {
		static const char *const jl[] = {"job", NULL};
		s->m_entries = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                                 "logferry_syslog_target_entries_total",
		                                 "Total number of successful entries sent to the "
		                                 "syslog target",
		                                 jl, NULL, 0);
		s->m_parse = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                               "logferry_syslog_target_parsing_errors_total",
		                               "Total number of parsing errors while receiving "
		                               "syslog messages",
		                               jl, NULL, 0);
		s->m_empty = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                               "logferry_syslog_empty_messages_total",
		                               "Total number of empty messages received from the "
		                               "syslog target",
		                               jl, NULL, 0);
		s->m_dropped = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                                 "logferry_syslog_udp_dropped_total",
		                                 "UDP syslog datagrams dropped while the agent's "
		                                 "clients were busy",
		                                 jl, NULL, 0);
		s->m_conns = lf_metrics_family(env->metrics, LF_METRIC_GAUGE,
		                               "logferry_syslog_connections",
		                               "Open TCP syslog connections", jl, NULL, 0);
		const char *lv[] = {s->job};
		lf_metric_add(s->m_entries, lv, 0);
		lf_metric_add(s->m_parse, lv, 0);
		lf_metric_add(s->m_empty, lv, 0);
		lf_metric_add(s->m_dropped, lv, 0);
		lf_metric_set(s->m_conns, lv, 0);
	}
	if (pthread_create(&s->th, NULL, thread_main, s) != 0)
		return lf_err(err, "syslog: pthread_create failed");
	s->started = true;
	lf_info("syslog target %s listening on %s/%s (%s)", s->job, s->bound,
	        s->udp ? "udp" : "tcp", s->rfc3164 ? "rfc3164" : "rfc5424");
	return 0;
}

/* ---------- loop side ---------- */

static int src_fd(struct lf_source *base)
{
	struct syslog_src *s = (struct syslog_src *)base;
	return s->q ? lf_srcq_ready_fd(s->q) : -1;
}

static void publish(struct syslog_src *s)
{
	if (!s->m_entries)
		return;
	const char *lv[] = {s->job};
	/* counters live in atomics; the families show their current value */
	lf_metric_set(s->m_entries, lv, (double)atomic_load(&s->n_entries));
	lf_metric_set(s->m_parse, lv, (double)atomic_load(&s->n_parse_err));
	lf_metric_set(s->m_empty, lv, (double)atomic_load(&s->n_empty));
	lf_metric_set(s->m_dropped, lv, (double)atomic_load(&s->n_udp_dropped));
	lf_metric_set(s->m_conns, lv, (double)atomic_load(&s->n_conns_pub));
}

static int src_run_once(struct lf_source *base, int64_t now_ns, size_t budget)
{
	(void)now_ns;
	struct syslog_src *s = (struct syslog_src *)base;
	publish(s);
	return lf_source_drain(base, s->q, &s->rd, &s->sink, budget);
}

static void src_list_json(struct lf_source *base, struct lf_buf *o)
{
	struct syslog_src *s = (struct syslog_src *)base;
	lf_source_list_json_head(o, s->job, "syslog", s->bound, &s->labels);
	lf_buf_printf(o,
	              ",\"state\":\"listening\",\"protocol\":\"%s\",\"format\":\"%s\","
	              "\"connections\":%llu,\"entries\":%llu,\"parsing_errors\":%llu,"
	              "\"empty_messages\":%llu,\"udp_dropped\":%llu,\"lines\":%llu}",
	              s->udp ? "udp" : "tcp", s->rfc3164 ? "rfc3164" : "rfc5424",
	              (unsigned long long)atomic_load(&s->n_conns_pub),
	              (unsigned long long)atomic_load(&s->n_entries),
	              (unsigned long long)atomic_load(&s->n_parse_err),
	              (unsigned long long)atomic_load(&s->n_empty),
	              (unsigned long long)atomic_load(&s->n_udp_dropped),
	              (unsigned long long)atomic_load(&s->n_entries));
}

static void src_stop(struct lf_source *base)
{
	struct syslog_src *s = (struct syslog_src *)base;
	if (s->started) {
		uint64_t one = 1;
		ssize_t w = write(s->stop_fd, &one, sizeof one);
		(void)w;
		pthread_join(s->th, NULL);
		s->started = false;
		/* the last batch the thread parsed */
		if (s->batch.len)
			lf_srcq_commit(s->q, &s->batch);
	}
}

static void src_free(struct lf_source *base)
{
	struct syslog_src *s = (struct syslog_src *)base;
	if (!s)
		return;
	src_stop(base);
	while (s->n_conns)
		conn_close(s, s->n_conns - 1);
	free(s->conns);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->ep >= 0)
		close(s->ep);
	lf_srcq_free(s->q);
	lf_buf_free(&s->batch);
	lf_srcq_reader_free(&s->rd);
	lf_labels_free(&s->ls);
	lf_labels_free(&s->labels);
	lf_relabel_free(s->relabel);
	free(s->rbuf);
	free(s->sdbuf);
	if (s->tls)
		SSL_CTX_free(s->tls);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->tls_ca);
	free(s->listen_address);
	free(s->job);
	free(s);
}

const struct lf_source_ops lf_syslog_source_ops = {
        .kind = "syslog",
        .create = src_create,
        .fd = src_fd,
        .run_once = src_run_once,
        .next_wakeup = lf_source_no_wakeup,
        .release = lf_source_noop_range,
        .claim = lf_source_noop_claim,
        .ack = lf_source_noop_range,
        .save = lf_source_noop_save,
        .list_json = src_list_json,
        .stop = src_stop,
        .free = src_free,
};
