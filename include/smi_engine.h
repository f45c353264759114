/*
 * smi_engine.h: the C interface of SMIEngine, an SMI (Service Mesh Interface) policy compiler
 * and decision engine. This is the only public header; it is C11 and C++ safe.
 *
 * Lifecycle
 *
 *   1. smi_policy_compile() or smi_policy_compile_paths()  -> smi_policy*  (+ smi_diagnostics*)
 *      or smi_policy_load_bundle() / smi_policy_load_bundle_file() for a bundle `smi compile` wrote
 *   2. smi_scratch_create(), once per thread                 -> smi_scratch*
 *   3. per connection: smi_identity_resolve() the peer       -> smi_identity (a small cache)
 *   4. per request:    smi_policy_decide_access() / smi_policy_select_backend()
 *   5. hot reload:     smi_holder_create(), smi_holder_swap(), smi_holder_decide_access()
 *   6. smi_scratch_free(), smi_policy_release(), smi_holder_free(), smi_diagnostics_free()
 *
 * Threads. A compiled policy is immutable and reference counted: any number of threads may
 * decide with it at once. Each thread owns its scratch; a scratch is never used by two threads
 * at the same time. A decision takes no lock and allocates no memory once the thread's scratch
 * has grown to the size of its requests.
 *
 * Memory. Every function that creates an object has a matching function that frees it, and
 * freeing NULL does nothing. Strings are passed as smi_string (pointer and length, no NUL
 * needed). A string a function returns is borrowed: the function's documentation says how long
 * it stays valid. No callback, no global state, no errno.
 *
 * Errors. Every function checks its arguments and returns a status (SMI_OK or a negative
 * SMI_ERROR_*); none aborts the process for bad input. Released status numbers never change.
 * smi_status_string() names any status.
 */
#ifndef SMI_ENGINE_H
#define SMI_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                     */
/* ------------------------------------------------------------------------------------------ */

#define SMI_VERSION_MAJOR 0
#define SMI_VERSION_MINOR 1
#define SMI_VERSION_PATCH 0
/** MAJOR * 1000000 + MINOR * 1000 + PATCH, as smi_version() returns it. */
#define SMI_VERSION_NUMBER (SMI_VERSION_MAJOR * 1000000 + SMI_VERSION_MINOR * 1000 + SMI_VERSION_PATCH)
#define SMI_VERSION_STRING "0.1.0"
/** Bumped whenever a released function, struct or constant changes incompatibly. */
#define SMI_ABI_VERSION 1

/** The library's SMI_VERSION_NUMBER; compare it with the header's at start-up. */
uint32_t smi_version(void);
/** The library's SMI_ABI_VERSION; must equal the header's. */
uint32_t smi_abi_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Status codes (never renumbered)                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef int32_t smi_status;

#define SMI_OK 0
/** A required pointer is NULL, a size field is too small, a count is too large, a string is
 *  NULL with a non-zero length, or a value is out of range (a protocol that does not exist). */
#define SMI_ERROR_INVALID_ARGUMENT (-1)
/** Memory could not be allocated. */
#define SMI_ERROR_NO_MEMORY (-2)
/** The policy has errors; nothing was created. Read the diagnostics. */
#define SMI_ERROR_COMPILE (-3)
/** A handle of the wrong kind was passed (a scratch where a policy belongs, ...). */
#define SMI_ERROR_WRONG_HANDLE (-4)
/** An smi_identity resolved against another policy was passed without its name to re-resolve. */
#define SMI_ERROR_STALE_IDENTITY (-5)
/** An index is past the end (smi_diagnostics_get). */
#define SMI_ERROR_OUT_OF_RANGE (-6)
/** The holder has no policy yet. */
#define SMI_ERROR_NO_POLICY (-7)
/** A request is larger than the policy accepts: more headers than its compile option
 *  `max_headers` (default SMI_MAX_HEADERS), or a request target longer than `max_target_length`
 *  bytes (default SMI_MAX_TARGET_LENGTH). Nothing is decided. */
#define SMI_ERROR_LIMIT (-8)
/** A bug in the engine; please report it. */
#define SMI_ERROR_INTERNAL (-9)
/** A compiled policy bundle was refused (bad magic, other format version, truncated, checksum
 *  mismatch, malformed sections, a program the verifier refuses, a pattern that does not
 *  compile, an unreadable file); the diagnostics say why (docs/BUNDLE.md lists the codes). */
#define SMI_ERROR_BUNDLE (-10)

/** Static, NUL-terminated text for any status, including unknown ones. Never NULL. */
const char *smi_status_string(smi_status status);

/** The default request limits; smi_compile_options.max_headers and max_target_length change them
 *  per policy. */
#define SMI_MAX_HEADERS 1024
#define SMI_MAX_TARGET_LENGTH 65536

/* ------------------------------------------------------------------------------------------ */
/* Strings and headers                                                                          */
/* ------------------------------------------------------------------------------------------ */

/** A byte string: `data` need not be NUL-terminated; {NULL, 0} is the empty/absent string. */
typedef struct smi_string {
    const char *data;
    size_t length;
} smi_string;

/** One request header. Names compare case-insensitively; a name given twice is read as one
 *  value joined with ", ". A value holding NUL, CR or LF never matches a header condition. */
typedef struct smi_header {
    smi_string name;
    smi_string value;
} smi_header;

/* ------------------------------------------------------------------------------------------ */
/* Compiling                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct smi_policy smi_policy;
typedef struct smi_diagnostics smi_diagnostics;

/** One named input buffer: YAML or JSON, one or several documents. `name` is what
 *  diagnostics call the file. */
typedef struct smi_source {
    smi_string name;
    smi_string text;
} smi_source;

/* smi_compile_options.flags */
/** Anchor pathRegex at both ends (OSM/Envoy behaviour) instead of at the start only. */
#define SMI_COMPILE_FULL_PATH_MATCH 0x1u
/** Let a TrafficTarget grant a destination in another namespace than its own. */
#define SMI_COMPILE_ALLOW_CROSS_NAMESPACE 0x2u
/** Keep disassembler annotations (notes naming the resource behind each instruction) in the
 *  compiled program. Nothing in this API reads them, so by default they are left out: the
 *  policy is smaller (about 150 bytes per TrafficTarget) and compiles faster. A bundle written
 *  from an annotated policy carries them for `smi disasm`. */
#define SMI_COMPILE_ANNOTATE 0x4u
/** Compile on the calling thread only. By default smi_policy_compile() and
 *  smi_policy_compile_paths() read, parse and decode the manifests and lower the TrafficTargets
 *  on up to one thread per online processor (at most 8), and verify the compiled program on a
 *  second thread while its regexes compile, all started and joined within the call; the result
 *  (policy, diagnostics and their order) is the same either way. */
#define SMI_COMPILE_ONE_THREAD 0x8u

/* smi_compile_options.normalization: path normalization steps (SEMANTICS.md section 5) */
#define SMI_NORMALIZE_STRIP_QUERY 0x01u
#define SMI_NORMALIZE_REJECT_UNSAFE 0x02u
#define SMI_NORMALIZE_DECODE_UNRESERVED 0x04u
#define SMI_NORMALIZE_MERGE_SLASHES 0x08u
#define SMI_NORMALIZE_REMOVE_DOT_SEGMENTS 0x10u
#define SMI_NORMALIZE_ALL 0x1Fu

/** Compile options. Set `size` to sizeof(smi_compile_options) (SMI_COMPILE_OPTIONS_INIT does);
 *  fields added later go at the end, and a library reads only the first `size` bytes (the
 *  fields past them take their defaults). A size below that of the 0.1 struct (up to and
 *  including trust_domain) is SMI_ERROR_INVALID_ARGUMENT. */
typedef struct smi_compile_options {
    uint32_t size;
    uint32_t flags;          /* SMI_COMPILE_* */
    uint32_t normalization;  /* SMI_NORMALIZE_* bits; SMI_NORMALIZE_ALL by default */
    uint32_t match_limit;    /* PCRE2 match limit per regex; 0 means the default, 100000 */
    uint32_t depth_limit;    /* PCRE2 depth limit per regex; 0 means the default, 10000 */
    uint32_t reserved;       /* must be 0 */
    smi_string trust_domain; /* SPIFFE ids must carry it; {NULL, 0} accepts any trust domain */
    /* Added in 0.2 (a caller built against 0.1 passes the shorter size; these then default): */
    uint32_t max_headers;       /* most headers a request may carry; 0 means SMI_MAX_HEADERS */
    uint32_t max_target_length; /* longest request target in bytes; 0 means SMI_MAX_TARGET_LENGTH */
} smi_compile_options;

#define SMI_COMPILE_OPTIONS_INIT {sizeof(smi_compile_options), 0u, SMI_NORMALIZE_ALL, 0u, 0u, 0u, {NULL, 0}, 0u, 0u}

/**
 * Compiles `count` in-memory sources into a policy.
 *
 * out          receives the new policy (reference count 1) on SMI_OK, NULL otherwise.
 * diagnostics  if not NULL, receives every error, warning and note found, whether or not
 *              compilation succeeded (free it with smi_diagnostics_free); NULL when not wanted.
 * sources      `count` sources; `count` may be 0 (an empty policy that denies everything).
 * options      NULL for the defaults.
 *
 * Returns SMI_OK, SMI_ERROR_COMPILE (the policy has errors; *out is NULL),
 * SMI_ERROR_INVALID_ARGUMENT, SMI_ERROR_NO_MEMORY.
 * Thread-safe: any number of compilations may run at once.
 */
smi_status smi_policy_compile(smi_policy **out, smi_diagnostics **diagnostics, const smi_source *sources,
                              size_t count, const smi_compile_options *options);

/**
 * Compiles the manifests at `count` paths: files, or folders read recursively for .yaml, .yml
 * and .json. A path that cannot be read is an error diagnostic (SMI_ERROR_COMPILE).
 * Otherwise as smi_policy_compile.
 */
smi_status smi_policy_compile_paths(smi_policy **out, smi_diagnostics **diagnostics, const smi_string *paths,
                                    size_t count, const smi_compile_options *options);

/**
 * Loads a compiled policy bundle (docs/BUNDLE.md; `smi compile -o policy.smib` writes one) from
 * `length` bytes at `bytes`, which are only read during the call. The bundle is checked whole
 * (magic, format version, length, CRC-32C checksum, section table, every count and index), its
 * program verified and its regexes compiled before a policy exists: a refused bundle never runs.
 *
 * out          receives the new policy (reference count 1) on SMI_OK, NULL otherwise.
 * diagnostics  if not NULL, receives the diagnostics (one error saying why on SMI_ERROR_BUNDLE,
 *              its code such as "bundle-truncated" or "bundle-checksum-mismatch", its file
 *              "<bundle>"; none on SMI_OK); NULL when not wanted.
 *
 * Returns SMI_OK, SMI_ERROR_BUNDLE, SMI_ERROR_INVALID_ARGUMENT (out NULL, or bytes NULL with a
 * non-zero length), SMI_ERROR_NO_MEMORY. Thread-safe.
 */
smi_status smi_policy_load_bundle(smi_policy **out, smi_diagnostics **diagnostics, const void *bytes, size_t length);

/**
 * As smi_policy_load_bundle, reading the bundle file at `path` (a file that cannot be read is
 * SMI_ERROR_BUNDLE with an "io" diagnostic; diagnostics name the path as their file).
 * Returns SMI_ERROR_INVALID_ARGUMENT for an empty path or one holding a NUL byte.
 */
smi_status smi_policy_load_bundle_file(smi_policy **out, smi_diagnostics **diagnostics, smi_string path);

/** Adds a reference to `policy` and returns it (NULL for NULL). Thread-safe. */
smi_policy *smi_policy_retain(smi_policy *policy);

/** Drops a reference; the policy is freed with the last one. NULL does nothing. Thread-safe.
 *  Strings borrowed from the policy become invalid when it is freed. */
void smi_policy_release(smi_policy *policy);

/* ------------------------------------------------------------------------------------------ */
/* Diagnostics                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define SMI_SEVERITY_ERROR 0
#define SMI_SEVERITY_WARNING 1
#define SMI_SEVERITY_NOTE 2

/** One diagnostic. Set `size` to sizeof(smi_diagnostic) before smi_diagnostics_get. Every
 *  string is borrowed from the smi_diagnostics object and valid until it is freed. */
typedef struct smi_diagnostic {
    uint32_t size;
    int32_t severity;     /* SMI_SEVERITY_* */
    uint32_t line;        /* 1-based; 0 when the diagnostic has no location */
    uint32_t column;      /* 1-based; 0 when the diagnostic has no location */
    smi_string file;      /* {NULL, 0} when it has no location */
    smi_string code;      /* stable code, e.g. "invalid-regex" */
    smi_string resource;  /* "HTTPRouteGroup default/x", or {NULL, 0} */
    smi_string field;     /* "spec.matches[0].pathRegex", or {NULL, 0} */
    smi_string message;   /* one line, no location */
    smi_string text;      /* the whole line: "FILE:LINE:COLUMN: error: RESOURCE: FIELD: MESSAGE" */
} smi_diagnostic;

/** The number of diagnostics (0 for NULL). */
size_t smi_diagnostics_count(const smi_diagnostics *diagnostics);

/** How many diagnostics have severity SMI_SEVERITY_ERROR (0 for NULL). */
size_t smi_diagnostics_error_count(const smi_diagnostics *diagnostics);

/**
 * Reads diagnostic `index` (sorted by file, line and column) into *out.
 * Returns SMI_OK, SMI_ERROR_INVALID_ARGUMENT (NULL, or out->size too small),
 * SMI_ERROR_OUT_OF_RANGE, SMI_ERROR_WRONG_HANDLE. Thread-safe for reading.
 */
smi_status smi_diagnostics_get(const smi_diagnostics *diagnostics, size_t index, smi_diagnostic *out);

/** Frees diagnostics; NULL does nothing. */
void smi_diagnostics_free(smi_diagnostics *diagnostics);

/* ------------------------------------------------------------------------------------------ */
/* Scratch                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct smi_scratch smi_scratch;

/** Creates a thread's working memory (PCRE2 match data, path and header buffers). It works
 *  with any policy. Returns SMI_OK, SMI_ERROR_INVALID_ARGUMENT, SMI_ERROR_NO_MEMORY. */
smi_status smi_scratch_create(smi_scratch **out);

/** Frees a scratch; NULL does nothing. It must not be in use by a decision. */
void smi_scratch_free(smi_scratch *scratch);

/* ------------------------------------------------------------------------------------------ */
/* Identities                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** A resolved identity: a small cache a proxy keeps per connection, so that the request path
 *  hashes no identity string. It belongs to the policy that resolved it. Zero-initialize it
 *  to mean "not resolved yet". */
typedef struct smi_identity {
    uint64_t policy_tag;  /* which policy resolved it; 0 = not resolved */
    uint32_t index;       /* the identity's index in that policy (UINT32_MAX: unknown to it) */
    uint32_t reserved;
} smi_identity;

/**
 * Resolves `name`, a ServiceAccount "namespace/name" or a SPIFFE id
 * "spiffe://<trust-domain>/ns/<namespace>/sa/<name>", against `policy`. An identity the policy
 * never names resolves successfully (to "unknown"): its requests are denied.
 * Returns SMI_OK, SMI_ERROR_INVALID_ARGUMENT, SMI_ERROR_WRONG_HANDLE. Thread-safe.
 */
smi_status smi_identity_resolve(smi_identity *out, const smi_policy *policy, smi_string name);

/* ------------------------------------------------------------------------------------------ */
/* Access decisions                                                                             */
/* ------------------------------------------------------------------------------------------ */

#define SMI_PROTOCOL_HTTP 0
#define SMI_PROTOCOL_TCP 1
#define SMI_PROTOCOL_UDP 2

/**
 * "May this request pass?" Set `size` to sizeof(smi_access_request).
 *
 * Identities: for each of source and destination, give a resolved identity cache, a name, or
 * both. When the cache (if any) was resolved by the deciding policy it is used and the name is
 * not read; otherwise the name is resolved and, when a cache pointer is given, written back to
 * it (so after a hot reload the first request of each connection re-resolves). A stale cache
 * without a name gives SMI_ERROR_STALE_IDENTITY. The caches are written by the decision: a
 * cache must not be shared by threads deciding at the same time.
 *
 * method, target and headers are read for SMI_PROTOCOL_HTTP only. `target` is the request
 * target: a path with an optional "?query".
 */
typedef struct smi_access_request {
    uint32_t size;
    uint32_t protocol;            /* SMI_PROTOCOL_* */
    uint32_t port;                /* the port the connection arrived on, 0..65535 */
    uint32_t reserved;            /* must be 0 */
    smi_identity *source;         /* may be NULL when source_name is given */
    smi_identity *destination;    /* may be NULL when destination_name is given */
    smi_string source_name;
    smi_string destination_name;
    smi_string method;
    smi_string target;
    const smi_header *headers;    /* header_count headers, or NULL when header_count is 0 */
    size_t header_count;
} smi_access_request;

/* smi_access_decision.reason */
#define SMI_REASON_NONE 0                   /* allowed */
#define SMI_REASON_PATH_REJECTED 1
#define SMI_REASON_NO_TRAFFIC_TARGET 2
#define SMI_REASON_SOURCE_NOT_ALLOWED 3
#define SMI_REASON_PORT_NOT_ALLOWED 4
#define SMI_REASON_NO_ROUTE_MATCHED 5
#define SMI_REASON_REGEX_BUDGET_EXCEEDED 6
/** The Swift API's deny for a request over the policy's limits; the C functions return
 *  SMI_ERROR_LIMIT for such a request instead, so no C decision carries it. */
#define SMI_REASON_REQUEST_TOO_LARGE 7

/** The spelling of a deny reason ("no-route-matched", ...; "none" for SMI_REASON_NONE,
 *  "unknown" otherwise). Static; never NULL. */
const char *smi_reason_string(int32_t reason);

/** A decision, filled by the engine. Set `size` to sizeof(smi_access_decision).
 *
 *  The strings are borrowed: from the policy (valid while it lives) for smi_policy_decide_access,
 *  from the scratch (valid until its next decision) for smi_holder_decide_access;
 *  normalized_path always from the scratch. */
typedef struct smi_access_decision {
    uint32_t size;
    int32_t allowed;              /* 1 allowed, 0 denied */
    int32_t reason;               /* SMI_REASON_*; SMI_REASON_NONE when allowed */
    uint32_t grant;               /* the grant's index in the policy; UINT32_MAX when denied */
    smi_string traffic_target;    /* granting TrafficTarget "namespace/name", or {NULL, 0} */
    smi_string rule_kind;         /* "HTTPRouteGroup", "TCPRoute" or "UDPRoute", or {NULL, 0} */
    smi_string match;             /* granting match name; {NULL, 0} for an L4 grant or a deny */
    smi_string normalized_path;   /* HTTP only; {NULL, 0} otherwise or when the path was rejected */
} smi_access_decision;

/**
 * Decides `request` with `policy`, using the calling thread's `scratch`.
 * Returns SMI_OK (read out->allowed), SMI_ERROR_INVALID_ARGUMENT, SMI_ERROR_WRONG_HANDLE,
 * SMI_ERROR_STALE_IDENTITY, SMI_ERROR_LIMIT. On any error *out says denied.
 * Thread-safe with a scratch per thread; takes no lock; allocates nothing once the scratch has
 * grown to the request's size.
 */
smi_status smi_policy_decide_access(smi_access_decision *out, const smi_policy *policy, smi_scratch *scratch,
                                    const smi_access_request *request);

/* ------------------------------------------------------------------------------------------ */
/* Split (TrafficSplit) decisions                                                               */
/* ------------------------------------------------------------------------------------------ */

/* smi_split_request.flags */
#define SMI_SPLIT_HAS_PORT 0x1u    /* `port` is set */
#define SMI_SPLIT_HAS_METHOD 0x2u  /* `method` is set */
#define SMI_SPLIT_HAS_TARGET 0x4u  /* `target` is set */

/** "Which backend?" for a request to a root service. Set `size` to sizeof(smi_split_request).
 *  The same entropy and policy always pick the same backend; uniformly random entropy follows
 *  the weights. method, target, headers and port matter only for splits with matches; without
 *  a target (or with one that path normalization rejects) only HTTPRouteGroup matches without a
 *  pathRegex can hold.
 *
 *  `service_cache` (optional) works like smi_access_request's identity caches: a proxy keeps one
 *  per upstream; when the deciding policy resolved it, `service` is not hashed, otherwise the
 *  name is resolved and written back. `service` is always required (it is the answer when no
 *  split applies). A caller built against a header without `service_cache` passes a smaller
 *  `size` (SMI_SPLIT_REQUEST_SIZE_V0) and the field is not read. */
typedef struct smi_split_request {
    uint32_t size;
    uint32_t flags;               /* SMI_SPLIT_HAS_* */
    uint64_t entropy;             /* random, or a hash for stickiness */
    smi_string service;           /* the root service "namespace/name" the client addressed */
    smi_string method;
    smi_string target;
    const smi_header *headers;
    size_t header_count;
    uint32_t port;
    uint32_t reserved;            /* must be 0 */
    smi_identity *service_cache;  /* may be NULL; not shared by threads deciding at the same time */
} smi_split_request;

/** The size of smi_split_request before `service_cache` was added (still accepted). */
#define SMI_SPLIT_REQUEST_SIZE_V0 (offsetof(smi_split_request, service_cache))

/** A split decision. Set `size` to sizeof(smi_split_decision). `backend` is borrowed from the
 *  policy, or is request->service itself when no split applies; `traffic_split` names the
 *  deciding TrafficSplit or is {NULL, 0}. For smi_holder_select_backend both point into the
 *  scratch (valid until its next decision) or into the request. */
typedef struct smi_split_decision {
    uint32_t size;
    uint32_t reserved;
    smi_string backend;
    smi_string traffic_split;
} smi_split_decision;

/** Picks the backend for `request`. Returns SMI_OK, SMI_ERROR_INVALID_ARGUMENT,
 *  SMI_ERROR_WRONG_HANDLE, SMI_ERROR_LIMIT. Thread-safe with a scratch per thread; no lock. */
smi_status smi_policy_select_backend(smi_split_decision *out, const smi_policy *policy, smi_scratch *scratch,
                                     const smi_split_request *request);

/* ------------------------------------------------------------------------------------------ */
/* Hot reload                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct smi_holder smi_holder;

/** Creates a holder for the policy in force. `initial` may be NULL (decisions then return
 *  SMI_ERROR_NO_POLICY); otherwise the holder takes its own reference to it. */
smi_status smi_holder_create(smi_holder **out, smi_policy *initial);

/**
 * Puts `policy` in force (the holder takes its own reference). Threads deciding through the
 * holder at that moment finish with the policy they started with; readers never block and never
 * see a freed policy. The old policy is released once no reader uses it. Several threads may
 * swap at once (swaps are serialized). Returns SMI_OK, SMI_ERROR_INVALID_ARGUMENT,
 * SMI_ERROR_WRONG_HANDLE, SMI_ERROR_NO_MEMORY.
 */
smi_status smi_holder_swap(smi_holder *holder, smi_policy *policy);

/** Returns a new reference to the policy in force (release it with smi_policy_release), or
 *  NULL when there is none or on bad arguments. `scratch` is the calling thread's. */
smi_policy *smi_holder_acquire(smi_holder *holder, smi_scratch *scratch);

/** As smi_policy_decide_access, with the policy in force. The decision's strings are copied
 *  into `scratch`. Also returns SMI_ERROR_NO_POLICY. */
smi_status smi_holder_decide_access(smi_access_decision *out, smi_holder *holder, smi_scratch *scratch,
                                    const smi_access_request *request);

/** As smi_policy_select_backend, with the policy in force. Also returns SMI_ERROR_NO_POLICY. */
smi_status smi_holder_select_backend(smi_split_decision *out, smi_holder *holder, smi_scratch *scratch,
                                     const smi_split_request *request);

/** Frees the holder and releases its policy; NULL does nothing. No thread may be deciding
 *  through it. */
void smi_holder_free(smi_holder *holder);

#ifdef __cplusplus
}
#endif

#endif /* SMI_ENGINE_H */
