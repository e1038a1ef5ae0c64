/* fuzz_stage_cri.c — the `cri` stage: CRI-O / containerd log lines (time stream P|F content),
 * partial lines held and merged.
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "cri"
#define MERGES 1

static const char *const configs[] = {
        "{}",
        "{max_partial_lines: 3, max_partial_line_size: 64, max_partial_line_size_truncate: true}",
        "{max_partial_lines: 1, max_partial_line_size: 0}",
        NULL,
};

#include "pipeline_target.h"
