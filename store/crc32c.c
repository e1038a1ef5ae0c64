/* crc32c.c — see crc32c.h. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u

/* Filled once under pthread_once; read-only afterwards. */
static uint32_t tbl[8][256];
static int have_sse42;
/* shift3[j][b]: the CRC state (b << 8j) advanced over STRIPE zero bytes.
 * Combines the three interleaved stripes of hw3() (see there). */
#define STRIPE 4096
static uint32_t shift3[4][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t sw(uint32_t crc, const unsigned char *p, size_t len);

static void init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		tbl[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			tbl[t][i] = (tbl[t - 1][i] >> 8) ^ tbl[0][tbl[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
	/* Advancing a state over zero bytes is linear in the state, so the
	 * operator is fixed by where it sends the 32 basis states. */
	static const unsigned char zeros[STRIPE];
	uint32_t basis[32];
	for (int i = 0; i < 32; i++)
		basis[i] = sw(1u << i, zeros, STRIPE);
	for (int j = 0; j < 4; j++)
		for (int b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int k = 0; k < 8; k++)
				if (b & (1 << k))
					v ^= basis[8 * j + k];
			shift3[j][b] = v;
		}
}

static uint32_t sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ tbl[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = tbl[7][w & 0xff] ^ tbl[6][(w >> 8) & 0xff] ^ tbl[5][(w >> 16) & 0xff] ^
		      tbl[4][(w >> 24) & 0xff] ^ tbl[3][(w >> 32) & 0xff] ^
		      tbl[2][(w >> 40) & 0xff] ^ tbl[1][(w >> 48) & 0xff] ^ tbl[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ tbl[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t hw(uint32_t crc, const unsigned char *p,
                                                     size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static inline uint32_t shift_stripe(uint32_t v)
{
	return shift3[0][v & 0xff] ^ shift3[1][(v >> 8) & 0xff] ^ shift3[2][(v >> 16) & 0xff] ^
	       shift3[3][v >> 24];
}

/* The crc32 instruction has a latency of about three cycles but can start
 * one per cycle, so three independent stripes A, B, C of STRIPE bytes run
 * about three times as fast as one. With f(c, X) the state after X from c:
 * f(c, A B C) = shift(shift(f(c, A)) ^ f(0, B)) ^ f(0, C), where shift
 * advances a state over STRIPE zero bytes (a table lookup). */
__attribute__((target("sse4.2"))) static uint32_t hw3(uint32_t crc, const unsigned char *p,
                                                      size_t len)
{
	while (len >= 3 * STRIPE) {
		uint64_t a = crc, b = 0, c = 0;
		for (size_t i = 0; i < STRIPE; i += 8) {
			uint64_t wa, wb, wc;
			memcpy(&wa, p + i, 8);
			memcpy(&wb, p + STRIPE + i, 8);
			memcpy(&wc, p + 2 * STRIPE + i, 8);
			a = __builtin_ia32_crc32di(a, wa);
			b = __builtin_ia32_crc32di(b, wb);
			c = __builtin_ia32_crc32di(c, wc);
		}
		crc = shift_stripe(shift_stripe((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
		p += 3 * STRIPE;
		len -= 3 * STRIPE;
	}
	return hw(crc, p, len);
}
#endif

uint32_t lf_crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, init);
	crc = ~crc;
#if defined(__x86_64__)
	if (have_sse42)
		return ~hw3(crc, data, len);
#endif
	return ~sw(crc, data, len);
}
