/* fuzz_stage_json.c — the `json` stage: JMESPath expressions over a JSON line.
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "json"
#define MERGES 0

static const char *const configs[] = {
        "{expressions: {a: '', b: b}}",
        "{expressions: {level: level, msg: msg, nested: 'a.b[0]', last: 'arr[-1]', quoted: '\"k e "
        "y\"', sub: 'a.b'}}",
        "{expressions: {x: x}, drop_malformed: true}",
        "{expressions: {ts: t, dup: t}, source: x}",
        NULL,
};

#include "pipeline_target.h"
