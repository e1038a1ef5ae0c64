/* fuzz_stage_regex.c — the `regex` stage: a Go (RE2) regular expression
 * with named groups over the line or an extracted value.
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "regex"
#define MERGES 0

static const char *const configs[] = {
        "{expression: '^(?P<ts>\\S+) (?P<level>\\w+) (?P<msg>.*)$'}",
        "{expression: '(?P<k>[a-z]+)=(?P<v>\"[^\"]*\"|\\S*)'}",
        "{expression: '(?i)(?P<a>x*)(?P<b>\\p{L}+)?(?P<empty>)'}",
        "{expression: '(?P<level>\\w+)', source: level}",
        NULL,
};

#include "pipeline_target.h"
