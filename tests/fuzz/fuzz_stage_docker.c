/* fuzz_stage_docker.c — the `docker` stage: Docker json-file lines
 * ({"log":...,"stream":...,"time":...}).
 * Input and properties: see pipeline_target.h. */
#include <stddef.h>

#define STAGE  "docker"
#define MERGES 0

static const char *const configs[] = {
        "{}",
        NULL,
};

#include "pipeline_target.h"
