/* config_mask.c — see config_mask.h. */
#include "config_mask.h"

#include <string.h>
#include <strings.h>

bool lf_config_secret_key(const char *key, bool in_tls_config)
{
	if (in_tls_config && strcmp(key, "key") == 0)
		return true;
	static const char *const keys[] = {"password",      "bearer_token", "credentials",
	                                   "client_secret", "secret",       NULL};
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

bool lf_config_url_key(const char *key)
{
	size_t n = strlen(key);
	return strcmp(key, "url") == 0 || strcmp(key, "api_server") == 0 ||
	       (n > 4 && strcmp(key + n - 4, "_url") == 0);
}

bool lf_config_secret_header(const char *name)
{
	return strcasecmp(name, "Authorization") == 0 ||
	       strcasecmp(name, "Proxy-Authorization") == 0;
}

void lf_config_mask_url(struct lf_buf *o, const char *url)
{
	const char *sch = strstr(url, "://");
	const char *auth = sch ? sch + 3 : url;
	size_t auth_len = strcspn(auth, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < auth_len; i++)
		if (auth[i] == '@')
			at = auth + i; /* the last '@' ends the user info */
	if (!at) {
		lf_buf_appends(o, url);
		return;
	}
	const char *colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon) {
		lf_buf_append(o, url, (size_t)(colon + 1 - url));
		lf_buf_appends(o, LF_SECRET_TEXT);
	} else {
		lf_buf_append(o, url, (size_t)(auth - url));
		lf_buf_appends(o, LF_SECRET_TEXT);
	}
	lf_buf_appends(o, at);
}
