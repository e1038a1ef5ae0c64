/* config_mask.h — which parts of the agent's configuration are secrets,
 * for /config and -print-config-stderr (lf_agent_config_render).
 *
 * Masked as "<secret>": the values of the keys password, bearer_token,
 * credentials (authorization), client_secret (oauth2) wherever they appear,
 * key inside a tls_config (an inline TLS key), client headers named
 * Authorization, and the password of a URL's user info (url, proxy_url,
 * api_server, any *_url).
 * `*_file` keys show the path only: the contents behind them are never read
 * for rendering. No state.
 */
#ifndef LF_AGENT_CONFIG_MASK_H
#define LF_AGENT_CONFIG_MASK_H

#include <stdbool.h>

#include "buf.h"

#define LF_SECRET_TEXT "<secret>"

/* True for keys whose value is a secret (in_tls_config: the key is in a
 * tls_config map, where `key` is one). */
bool lf_config_secret_key(const char *key, bool in_tls_config);
/* True for keys whose value is a URL (its password gets masked). */
bool lf_config_url_key(const char *key);
/* True for header names whose value is a credential. */
bool lf_config_secret_header(const char *name);
/* Appends url with the password of its user info replaced by <secret>
 * ("https://u:<secret>@h/p"); a URL without one is appended unchanged. A
 * user info without ':' (a token as user name) is masked whole. */
void lf_config_mask_url(struct lf_buf *o, const char *url);

#endif
