/* fuzz_stage_logfmt.c — the `logfmt` stage: key=value lines.
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "logfmt"
#define MERGES 0

static const char *const configs[] = {
        "{mapping: {level: '', msg: '', t: time, q: 'k'}}",
        "{mapping: {a: ''}, source: level}",
        NULL,
};

#include "pipeline_target.h"
