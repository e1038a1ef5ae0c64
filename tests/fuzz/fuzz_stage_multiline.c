/* fuzz_stage_multiline.c — the `multiline` stage: lines merged into blocks that
 * start at `firstline`, bounded by max_lines and max_wait_time.
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "multiline"
#define MERGES 1

static const char *const configs[] = {
        "{firstline: '^\\d{4}-', max_lines: 5, max_wait_time: 1s}",
        "{firstline: '^\\S', max_lines: 128}",
        "{firstline: '^\\[', max_lines: 1, max_wait_time: 10ms}",
        NULL,
};

#include "pipeline_target.h"
