/* main.c — logferry-store: flags, config, startup (WAL replay), the HTTP
 * server, and a graceful SIGTERM/SIGINT shutdown that flushes every head
 * to chunks before exiting.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ruler.h"
#include "store.h"
#include "tail.h"

static void usage(FILE *f)
{
	fputs("Usage: logferry-store [flags]\n"
	      "  -config.file=PATH                 YAML config (Loki key names); default: none\n"
	      "                                    (tenant fake, 127.0.0.1:3100, data in ./data)\n"
	      "  -config.expand-env=true           expand ${VAR} in the config file\n"
	      "  -server.http-listen-address=ADDR  overrides server.http_listen_address\n"
	      "  -server.http-listen-port=PORT     overrides server.http_listen_port (0 = any)\n"
	      "  -common.path-prefix=DIR           overrides common.path_prefix\n"
	      "  -auth.enabled=BOOL                overrides auth_enabled\n"
	      "  -log.level=debug|info|warn|error  overrides server.log_level\n"
	      "  -print-config-stderr              print the effective config at startup\n"
	      "  -check-syntax                     check the config and flags, then exit\n"
	      "                                    (0 valid; 1 and the error on stderr)\n"
	      "  -version                          print the version and exit\n"
	      "  -help                             this text\n",
	      f);
}

/* Go flag syntax: -name=value, -name value, --name=value; bools alone. */
static bool flag(int argc, char **argv, int *i, const char *name, const char **val, bool is_bool)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return false;
	a++;
	if (a[0] == '-')
		a++;
	size_t n = strlen(name);
	if (strncmp(a, name, n))
		return false;
	if (a[n] == '=') {
		*val = a + n + 1;
		return true;
	}
	if (a[n])
		return false;
	if (is_bool) {
		*val = "true";
		return true;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "flag needs an argument: -%s\n", name);
		exit(2);
	}
	*val = argv[++*i];
	return true;
}

static bool parse_bool(const char *v)
{
	return !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "t") || !strcmp(v, "TRUE");
}

int main(int argc, char **argv)
{
	const char *config_file = NULL, *port = NULL, *addr = NULL, *prefix = NULL, *auth = NULL,
	           *level = NULL, *v;
	bool expand_env = false, print_config = false, check_syntax = false;
	for (int i = 1; i < argc; i++) {
		if (flag(argc, argv, &i, "config.file", &v, false))
			config_file = v;
		else if (flag(argc, argv, &i, "config.expand-env", &v, true))
			expand_env = parse_bool(v);
		else if (flag(argc, argv, &i, "server.http-listen-port", &v, false))
			port = v;
		else if (flag(argc, argv, &i, "server.http-listen-address", &v, false))
			addr = v;
		else if (flag(argc, argv, &i, "common.path-prefix", &v, false))
			prefix = v;
		else if (flag(argc, argv, &i, "auth.enabled", &v, true))
			auth = v;
		else if (flag(argc, argv, &i, "log.level", &v, false))
			level = v;
		else if (flag(argc, argv, &i, "print-config-stderr", &v, true))
			print_config = parse_bool(v);
		else if (flag(argc, argv, &i, "check-syntax", &v, true))
			check_syntax = parse_bool(v);
		else if (flag(argc, argv, &i, "version", &v, true)) {
			printf("logferry-store, version %s\n", LF_VERSION);
			return 0;
		} else if (flag(argc, argv, &i, "help", &v, true) ||
		           flag(argc, argv, &i, "h", &v, true)) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "flag provided but not defined: %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	struct lf_store_config cfg;
	struct lf_error err;
	/* Set before the first `goto fail` so the error path frees only what exists. */
	struct lf_metrics *reg = NULL;
	struct lf_store *store = NULL;
	if (lf_store_config_defaults(&cfg) < 0) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (config_file && lf_store_config_load(&cfg, config_file, expand_env, &err) < 0) {
		if (check_syntax)
			printf("Invalid config file\n");
		lf_error("loading config: %s", err.msg);
		goto fail;
	}
	if (port) {
		char *e;
		long p = strtol(port, &e, 10);
		if (*e || p < 0 || p > 65535) {
			if (check_syntax)
				printf("Invalid config file\n");
			lf_error("invalid -server.http-listen-port %s", port);
			goto fail;
		}
		cfg.http_listen_port = p;
	}
	if (addr) {
		free(cfg.http_listen_address);
		cfg.http_listen_address = strdup(addr);
	}
	if (prefix) {
		free(cfg.path_prefix);
		cfg.path_prefix = strdup(prefix);
	}
	if (auth)
		cfg.auth_enabled = parse_bool(auth);
	if (level) {
		free(cfg.log_level);
		cfg.log_level = strdup(level);
	}
	enum lf_log_level lvl;
	if (lf_log_parse_level(cfg.log_level, &lvl) < 0) {
		if (check_syntax)
			printf("Invalid config file\n");
		lf_error("invalid log level \"%s\"", cfg.log_level);
		goto fail;
	}
	lf_log_set_level(lvl);
	if (check_syntax) {
		/* Everything above is what startup checks before touching the
		 * data directory; nothing is opened or created. */
		printf("Valid config file! No syntax issues found\n");
		lf_store_config_free(&cfg);
		return 0;
	}
	if (print_config) {
		struct lf_buf b = LF_BUF_INIT;
		lf_store_config_render(&cfg, &b);
		fputs(b.data, stderr);
		lf_buf_free(&b);
	}

	/* Heads grow to chunk_target_size (1.5 MiB) and are freed when cut.
	 * With glibc's dynamic mmap threshold they land in the malloc arenas
	 * and fragment them (RSS 300+ MiB for 100 streams in the benchmark);
	 * a fixed 1 MiB threshold maps them and returns them on free (peak
	 * ~170 MiB) while ~1 MiB request buffers stay in the arenas. A
	 * process-wide allocator setting, so main owns it. */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

	/* Signals are taken synchronously by main; every thread created from
	 * here on inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	reg = lf_metrics_new();
	if (!reg || lf_store_open(&cfg, reg, &store, &err) < 0) {
		lf_error("opening the store in %s: %s", cfg.path_prefix,
		         reg ? err.msg : "no memory");
		goto fail;
	}
	if (lf_store_start_flusher(store, &err) < 0) {
		lf_error("%s", err.msg);
		lf_store_close(store);
		goto fail;
	}
	struct lf_tail_hub *tails = lf_tail_hub_new(store, &cfg);
	if (!tails) {
		lf_error("out of memory");
		lf_store_close(store);
		goto fail;
	}
	lf_store_set_push_hook(store, lf_tail_on_push, tails);
	struct lf_ruler *ruler = NULL;
	if (lf_ruler_start(&cfg, store, reg, &ruler, &err) < 0) {
		lf_error("starting the ruler: %s", err.msg);
		lf_store_close(store);
		lf_tail_hub_free(tails);
		goto fail;
	}
	struct lf_api api = {store, &cfg, reg, tails, ruler};
	struct lf_httpd_config hc = {cfg.http_listen_address, (int)cfg.http_listen_port,
	                             (size_t)cfg.max_recv_msg_size, 0};
	struct lf_httpd *httpd = NULL;
	if (lf_httpd_start(&hc, lf_api_handle, &api, &httpd, &err) < 0) {
		lf_error("starting the HTTP server on %s:%lld: %s", cfg.http_listen_address,
		         (long long)cfg.http_listen_port, err.msg);
		lf_ruler_stop(ruler);
		lf_store_close(store);
		lf_tail_hub_free(tails);
		goto fail;
	}
	lf_info("logferry-store %s listening on %s:%d, data in %s, auth_enabled=%s", LF_VERSION,
	        cfg.http_listen_address, lf_httpd_port(httpd), cfg.path_prefix,
	        cfg.auth_enabled ? "true" : "false");

	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	lf_info("received signal %d, shutting down: flushing heads to chunks", sig);
	lf_tail_hub_shutdown(tails); /* upgraded connections end before the server */
	lf_httpd_stop(httpd);
	lf_ruler_stop(ruler);
	lf_store_close(store);
	lf_tail_hub_free(tails);
	lf_metrics_free(reg);
	lf_store_config_free(&cfg);
	lf_info("shutdown complete");
	return 0;
fail:
	lf_metrics_free(reg);
	lf_store_config_free(&cfg);
	return 1;
}
