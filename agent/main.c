/* main.c — the `logferry` command line: Promtail's flags, config loading,
 * -check-syntax / -print-config-stderr / -version, then the agent runtime. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "buf.h"
#include "config.h"
#include "log.h"

#ifndef LF_VERSION
#define LF_VERSION "dev"
#endif

enum flag_kind { F_BOOL, F_STR, F_INT };

struct flag {
	const char *name;
	enum flag_kind kind;
	const char *help;
	void *dst; /* bool *, const char **, long long * */
	const char *def;
};

static void usage(FILE *f, const struct flag *flags)
{
	fprintf(f, "Usage of logferry:\n");
	for (const struct flag *fl = flags; fl->name; fl++) {
		fprintf(f, "  -%s%s\n    \t%s", fl->name,
		        fl->kind == F_BOOL ? "" : (fl->kind == F_INT ? " int" : " string"),
		        fl->help);
		if (fl->def)
			fprintf(f, " (default %s)", fl->def);
		fputc('\n', f);
	}
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Go's flag package rules: -name, --name, -name=value, -name value (not for
 * booleans), "--" ends the flags. Returns 0, or 2 (usage error, printed). */
static int parse_flags(int argc, char **argv, const struct flag *flags)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-' || a[1] == 0) {
			fprintf(stderr, "unexpected argument \"%s\"\n", a);
			usage(stderr, flags);
			return 2;
		}
		a += (a[1] == '-') ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const struct flag *fl = flags;
		for (; fl->name; fl++)
			if (strlen(fl->name) == nl && strncmp(fl->name, a, nl) == 0)
				break;
		if (!fl->name) {
			fprintf(stderr, "flag provided but not defined: -%.*s\n", (int)nl, a);
			usage(stderr, flags);
			return 2;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (fl->kind == F_BOOL) {
			bool b = true;
			if (val && parse_bool(val, &b) < 0) {
				fprintf(stderr,
				        "invalid boolean value \"%s\" for -%s: parse error\n", val,
				        fl->name);
				usage(stderr, flags);
				return 2;
			}
			*(bool *)fl->dst = b;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "flag needs an argument: -%s\n", fl->name);
				usage(stderr, flags);
				return 2;
			}
			val = argv[++i];
		}
		if (fl->kind == F_STR) {
			*(const char **)fl->dst = val;
		} else {
			char *end;
			errno = 0;
			long long v = strtoll(val, &end, 10);
			if (errno || end == val || *end) {
				fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n",
				        val, fl->name);
				usage(stderr, flags);
				return 2;
			}
			*(long long *)fl->dst = v;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_file = NULL;
	bool expand_env = false, dry_run = false, stdin_mode = false, check_syntax = false;
	bool print_config = false, print_reverse = false, version = false, help = false;
	bool inspect = false, server_disable = false, runtime_reload = false;
	const char *client_url = NULL, *tenant = NULL, *ext_labels = NULL, *log_level = NULL;
	const char *positions_file = NULL, *listen_addr = NULL;
	long long listen_port = -1;
	const char *hostname = NULL, *pods_dir = NULL, *containers_dir = NULL;

	const struct flag flags[] = {
	        {"config.file", F_STR, "Path of the YAML config (Promtail's format).", &config_file,
	         NULL},
	        {"config.expand-env", F_BOOL,
	         "Replace ${VAR} and ${VAR:-default} in the config with environment "
	         "values before parsing.",
	         &expand_env, NULL},
	        {"dry-run", F_BOOL,
	         "Write each entry to stdout (time, labels, line) instead of pushing it; "
	         "positions are read but never written.",
	         &dry_run, NULL},
	        {"stdin", F_BOOL,
	         "Read log lines from standard input through the first scrape config's "
	         "pipeline.",
	         &stdin_mode, NULL},
	        {"inspect", F_BOOL, "Accepted for Promtail compatibility; not implemented.",
	         &inspect, NULL},
	        {"check-syntax", F_BOOL, "Validate the config file and exit.", &check_syntax, NULL},
	        {"print-config-stderr", F_BOOL,
	         "Write the effective config (defaults filled in) to stderr at start.",
	         &print_config, NULL},
	        {"log-config-reverse-order", F_BOOL,
	         "Same as -print-config-stderr (Promtail's reversed form is not kept).",
	         &print_reverse, NULL},
	        {"client.url", F_STR, "URL of the Loki push endpoint (adds a client).", &client_url,
	         NULL},
	        {"client.tenant-id", F_STR, "Tenant ID of the -client.url client.", &tenant, NULL},
	        {"client.external-labels", F_STR,
	         "Labels added to every entry of every client, as k=v,k2=v2 (a client's "
	         "own external_labels win).",
	         &ext_labels, NULL},
	        {"positions.file", F_STR, "Positions file (overrides positions.filename).",
	         &positions_file, NULL},
	        {"server.http-listen-address", F_STR, "HTTP server listen address.", &listen_addr,
	         NULL},
	        {"server.http-listen-port", F_INT, "HTTP server listen port.", &listen_port,
	         "9080"},
	        {"server.disable", F_BOOL, "Disable the HTTP server.", &server_disable, NULL},
	        {"server.enable-runtime-reload", F_BOOL,
	         "Enable POST /reload (as server.enable_runtime_reload).", &runtime_reload, NULL},
	        {"log.level", F_STR,
	         "Lowest level logged: debug, info, warn or error (overrides server.log_level).",
	         &log_level, "info"},
	        {"discovery.hostname", F_STR, "Node name for __host__ filtering (tests).",
	         &hostname, NULL},
	        {"discovery.pods-dir", F_STR, "Root of the kubelet's pod logs (tests).", &pods_dir,
	         "/var/log/pods"},
	        {"discovery.containers-dir", F_STR, "Directory of container log symlinks (tests).",
	         &containers_dir, "/var/log/containers"},
	        {"version", F_BOOL, "Print the version and exit.", &version, NULL},
	        {"help", F_BOOL, "Print this help.", &help, NULL},
	        {"h", F_BOOL, "Print this help.", &help, NULL},
	        {NULL, F_BOOL, NULL, NULL, NULL},
	};

	int rc = parse_flags(argc, argv, flags);
	if (rc)
		return rc;
	if (help) {
		usage(stdout, flags);
		return 0;
	}
	if (version) {
		printf("logferry, version %s (promtail-compatible agent)\n", LF_VERSION);
		return 0;
	}
	if (log_level) {
		enum lf_log_level lvl;
		if (lf_log_parse_level(log_level, &lvl) < 0) {
			fprintf(stderr, "invalid value \"%s\" for flag -log.level\n", log_level);
			return 2;
		}
		lf_log_set_level(lvl);
	}
	if (inspect)
		lf_warn("-inspect is not implemented by logferry; ignored");

	struct lf_config_overrides ov = LF_CONFIG_OVERRIDES_INIT;
	ov.client_url = client_url;
	ov.client_tenant_id = tenant;
	ov.client_external_labels = ext_labels;
	ov.log_level = log_level;
	ov.positions_file = positions_file;
	ov.http_listen_address = listen_addr;
	ov.http_listen_port = listen_port;
	ov.server_disable = server_disable ? 1 : -1;
	ov.enable_runtime_reload = runtime_reload;

	if (!config_file && !stdin_mode) {
		if (check_syntax) {
			printf("Invalid config file\n");
			fprintf(stderr, "-config.file flag is required\n");
			return 1;
		}
		fprintf(stderr, "-config.file flag is required\n");
		usage(stderr, flags);
		return 1;
	}

	struct lf_error err = {{0}};
	struct lf_agent_config *cfg = NULL;
	int lrc = config_file
	                  ? lf_agent_config_load(config_file, expand_env, &ov, &cfg, &err)
	                  : lf_agent_config_load_string("", 0, "<none>", false, &ov, &cfg, &err);
	if (lrc == 0 && check_syntax)
		lrc = lf_agent_validate(cfg, &err);
	if (lrc < 0) {
		fprintf(stderr, "failed parsing config: %s\n", err.msg);
		lf_agent_config_free(cfg);
		return 1;
	}
	if (check_syntax) {
		printf("Valid config file! No syntax issues found\n");
		lf_agent_config_free(cfg);
		return 0;
	}
	if (print_config || print_reverse) {
		struct lf_buf out = LF_BUF_INIT;
		lf_agent_config_render(cfg, &out);
		fwrite(out.data, 1, out.len, stderr);
		lf_buf_free(&out);
	}
	enum lf_log_level lvl;
	if (lf_log_parse_level(cfg->server.log_level, &lvl) == 0)
		lf_log_set_level(lvl);

	struct lf_agent_opts o = {
	        .config_file = config_file,
	        .expand_env = expand_env,
	        .ov = ov,
	        .dry_run = dry_run,
	        .stdin_mode = stdin_mode,
	        .hostname = hostname,
	        .pods_dir = pods_dir,
	        .containers_dir = containers_dir,
	};
	rc = lf_agent_run(&o, cfg, &err);
	if (rc != 0)
		lf_error("%s", err.msg);
	return rc;
}
