/* A stand-in for an ONNX Runtime older than 1.24: it exports OrtGetApiBase, but its GetApi has no
 * C API version 24 to give (real ORT returns NULL for a version it does not know). The embedder's
 * test builds it with the C compiler to check the "library too old" message. */
#include <stddef.h>

typedef struct {
	const void *(*GetApi)(unsigned int version);
	const char *(*GetVersionString)(void);
} OrtApiBase;

static const void *get_api(unsigned int version) { return version <= 23 ? (const void *)1 : NULL; }
static const char *version_string(void) { return "1.23.2"; }
static const OrtApiBase base = {get_api, version_string};

const OrtApiBase *OrtGetApiBase(void) { return &base; }
