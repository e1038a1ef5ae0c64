/* error.c — see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lf_err(struct lf_error *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int lf_err_prefix(struct lf_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char prefix[LF_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	char old[LF_ERROR_MAX];
	memcpy(old, err->msg, sizeof old);
	old[sizeof old - 1] = '\0';
	snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	return -1;
}

void lf_err_clear(struct lf_error *err)
{
	if (err)
		err->msg[0] = '\0';
}
