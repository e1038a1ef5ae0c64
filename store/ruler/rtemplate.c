/* rtemplate.c — see rtemplate.h. */
#include "rtemplate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

/* Field names the rewrite produces: a prefix byte pair no label name can
 * start with (labels are ASCII; the engine accepts bytes >= 0x80 in field
 * names). */
#define PFX     "\xC2\xA7"
#define PFX_LEN 2

static const struct {
	const char *from;
	const char *to;
	bool takes_name; /* followed by .name */
} rewrites[] = {
        {"$labels.", "." PFX "L", true},
        {".Labels.", "." PFX "L", true},
        {"$externalLabels.", "." PFX "E", true},
        {".ExternalLabels.", "." PFX "E", true},
        /* $value is a float64 in Prometheus (gt $value 5.0 works) */
        {"$value", "(float64 ." PFX "V)", false},
        {".Value", "(float64 ." PFX "V)", false},
        {"$externalURL", "." PFX "U", false},
        {".ExternalURL", "." PFX "U", false},
};

static bool ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

char *lf_rtmpl_rewrite(const char *s)
{
	struct lf_buf b = LF_BUF_INIT;
	size_t n = strlen(s);
	bool in_action = false;
	char quote = 0;
	for (size_t i = 0; i < n;) {
		if (!in_action) {
			if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
				in_action = true;
				lf_buf_append(&b, "{{", 2);
				i += 2;
				continue;
			}
			lf_buf_putc(&b, s[i++]);
			continue;
		}
		if (quote) {
			if (quote == '"' && s[i] == '\\' && i + 1 < n) {
				lf_buf_append(&b, s + i, 2);
				i += 2;
				continue;
			}
			if (s[i] == quote)
				quote = 0;
			lf_buf_putc(&b, s[i++]);
			continue;
		}
		if (s[i] == '"' || s[i] == '`') {
			quote = s[i];
			lf_buf_putc(&b, s[i++]);
			continue;
		}
		if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
			in_action = false;
			lf_buf_append(&b, "}}", 2);
			i += 2;
			continue;
		}
		bool done = false;
		/* only at a token start (not inside an identifier or field chain) */
		if (i == 0 || !(ident(s[i - 1]) || s[i - 1] == '.')) {
			for (size_t r = 0; r < sizeof(rewrites) / sizeof(rewrites[0]); r++) {
				size_t fl = strlen(rewrites[r].from);
				if (strncmp(s + i, rewrites[r].from, fl))
					continue;
				if (!rewrites[r].takes_name && ident(s[i + fl]))
					continue;
				if (rewrites[r].takes_name && !ident(s[i + fl]))
					continue;
				lf_buf_appends(&b, rewrites[r].to);
				i += fl;
				done = true;
				break;
			}
		}
		if (!done)
			lf_buf_putc(&b, s[i++]);
	}
	if (lf_buf_putc(&b, 0) < 0) {
		lf_buf_free(&b);
		return NULL;
	}
	return lf_buf_take(&b);
}

int lf_rtmpl_new(const char *name, const char *text, struct lf_template **out, struct lf_error *err)
{
	char *rw = lf_rtmpl_rewrite(text);
	if (!rw)
		return lf_err(err, "out of memory");
	int rc = lf_template_new(name, rw, 0, out, err);
	free(rw);
	return rc;
}

void lf_rtmpl_format_value(double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		snprintf(out, n, signbit(v) ? "-0" : "0");
		return;
	}
	int p = 1;
	char tmp[64];
	for (; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	int exp = (int)floor(log10(fabs(strtod(tmp, NULL))));
	/* the exponent of the rounded shortest form */
	const char *e = strchr(tmp, 'e');
	if (e)
		exp = atoi(e + 1);
	if (exp < -4 || exp >= 6)
		snprintf(out, n, "%.*e", p - 1, v);
	else {
		int dec = p - 1 - exp;
		snprintf(out, n, "%.*f", dec < 0 ? 0 : dec, v);
	}
}

struct ctx {
	const struct lf_rtmpl_data *d;
	char vbuf[64];
};

static bool lookup(void *cp, const char *name, size_t len, const char **val, size_t *vlen)
{
	struct ctx *c = cp;
	if (len < PFX_LEN + 1 || memcmp(name, PFX, PFX_LEN))
		return false;
	char kind = name[PFX_LEN];
	const char *rest = name + PFX_LEN + 1;
	size_t rl = len - PFX_LEN - 1;
	const struct lf_label *l;
	switch (kind) {
	case 'L':
		l = c->d->labels ? lf_labels_find(c->d->labels, rest, rl) : NULL;
		break;
	case 'E':
		l = c->d->external_labels ? lf_labels_find(c->d->external_labels, rest, rl) : NULL;
		break;
	case 'V':
		lf_rtmpl_format_value(c->d->value, c->vbuf, sizeof(c->vbuf));
		*val = c->vbuf;
		*vlen = strlen(c->vbuf);
		return true;
	case 'U':
		*val = c->d->external_url ? c->d->external_url : "";
		*vlen = strlen(*val);
		return true;
	default:
		return false;
	}
	if (!l)
		return false;
	*val = l->value;
	*vlen = l->value_len;
	return true;
}

int lf_rtmpl_exec(struct lf_template *t, const struct lf_rtmpl_data *d, struct lf_buf *out,
                  struct lf_error *err)
{
	struct ctx c = {.d = d};
	lf_buf_reset(out);
	int rc = lf_template_exec(t, lookup, &c, out, err);
	if (rc == 0 && out->len > LF_RTMPL_MAX_OUT)
		rc = lf_err(err, "template output of %zu bytes exceeds the limit of %d", out->len,
		            LF_RTMPL_MAX_OUT);
	return rc;
}
