/* utf8.h — UTF-8 and escape helpers shared by every parser that decodes
 * Go/JSON-style escapes (label values, LogQL strings, templates, logfmt and
 * JSON values) and every writer that must emit valid UTF-8.
 *
 * Decoding follows Go: a sequence is valid only in its shortest form, below
 * U+10FFFF and outside the surrogates. Encoding never produces invalid
 * UTF-8: an invalid code point is written as U+FFFD, as Go's
 * utf8.EncodeRune does.
 */
#ifndef LF_UTF8_H
#define LF_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* Value of a hex digit (0-9a-fA-F), or -1. */
int lf_hexval(char c);

/* Decodes the sequence at s (n > 0 bytes available): returns its length
 * (1..4) and sets *cp, or returns 0 when it is not valid UTF-8. */
size_t lf_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encodes cp into out; returns the length (1..4). */
size_t lf_utf8_encode(uint32_t cp, char out[4]);

/* Appends cp encoded as UTF-8. 0 / -1 (out of memory). */
int lf_utf8_append(struct lf_buf *b, uint32_t cp);

/* True when all n bytes are valid UTF-8. */
bool lf_utf8_valid(const char *s, size_t n);

/* lf_utf8_valid with ASCII (the usual label value) checked inline, a word
 * at a time (overlapping loads for the tail): per-line stages call it. */
static inline bool lf_utf8_valid_fast(const char *v, size_t n)
{
	uint64_t acc = 0;
	if (n >= 8) {
		uint64_t w;
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&w, v + i, 8);
			acc |= w;
		}
		memcpy(&w, v + n - 8, 8);
		acc |= w;
	} else if (n >= 4) {
		uint32_t w1, w2;
		memcpy(&w1, v, 4);
		memcpy(&w2, v + n - 4, 4);
		acc = w1 | w2;
	} else {
		for (size_t i = 0; i < n; i++)
			acc |= (unsigned char)v[i];
	}
	return !(acc & 0x8080808080808080ull) || lf_utf8_valid(v, n);
}

#endif
