/*
 * bench: decision latency of libsmiengine through its C ABI, against two baselines, on the same
 * requests in one process.
 *
 *     bench [options] DIR
 *
 * DIR is what `smi generate` writes: DIR/policy/ (the manifests), DIR/requests.jsonl (requests in
 * the `smi eval` format), DIR/expected.jsonl (per request {"class":..., "outcome":...}) and
 * DIR/rules.jsonl (the policy flattened, one line per TrafficTarget and granting unit, in
 * TrafficTarget namespace/name order).
 *
 * Contenders, each deciding every request of a class in a loop:
 *
 *   engine  smi_policy_compile_paths(DIR/policy), one scratch, each distinct identity resolved
 *           once into an smi_identity (as a proxy does per connection), then
 *           smi_policy_decide_access / smi_policy_select_backend per request (a split request
 *           carries the root service's resolved cache, as a proxy keeps one per upstream).
 *   floor   what no engine can beat: one hash lookup of (source, destination, port) with
 *           identities interned to integers beforehand, giving the first applicable rule's
 *           compiled path regex, then one pcre2_jit_match on the raw path (no normalization), plus
 *           that rule's header regexes when it has any. A port missing from the table costs a
 *           second lookup for rules that cover every port. No method check.
 *   scan    what Envoy's RBAC filter and the SMI meshes do: every rule of rules.jsonl in order,
 *           first match wins: destination and source names (string compares), protocol, ports,
 *           methods, then the path regex and header regexes (pcre2_jit_match, precompiled).
 *
 * The baselines answer access requests only (the split class is the engine's alone). Header names
 * are lower-cased once when the requests are loaded, for every contender (HTTP/2 and Envoy hand
 * them over lower-case). Regexes are compiled as the engine compiles them: path regexes anchored
 * at the start (PCRE2_ANCHORED | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY), header regexes at both ends.
 *
 * Timing: per (contender, class), a warm-up, then --reps repetitions of about --time seconds,
 * each made of batches of --batch decisions timed with clock_gettime(CLOCK_MONOTONIC). The median
 * is over the repetitions' ns/decision, p99 over the batches' ns/decision.
 *
 * Correctness, on the side: every engine answer is compared with expected.jsonl (allow, or deny
 * and its reason, or for a split a backend when expected.jsonl names one). The floor and the scan
 * are compared with the engine's allow/deny where they apply: the scan wherever the engine's
 * normalized path is the raw path without its query (the baselines match the raw target), the floor where in addition its answer must be the policy's
 * (see floor_applies).
 *
 * Output: one JSON line per (contender, class) (to --json FILE, appended, or to standard output),
 * then a table on standard output. Exit status 1 when the engine disagrees with expected.jsonl.
 */
#define _POSIX_C_SOURCE 200809L
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <smi_engine.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

/* ---- small helpers ---------------------------------------------------------------------------- */

static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("bench: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(2);
}

static void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t size) {
    p = realloc(p, size ? size : 1);
    if (p == NULL) die("out of memory");
    return p;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int str_eq(const char *a, size_t al, const char *b, size_t bl) {
    return al == bl && memcmp(a, b, al) == 0;
}

static int cstr_eq(const char *a, size_t al, const char *b) { return str_eq(a, al, b, strlen(b)); }

/* Reads a whole file, NUL-terminated. */
static char *read_file(const char *path, size_t *length) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) die("cannot open %s: %s", path, strerror(errno));
    size_t capacity = 1 << 16, n = 0;
    char *data = xcalloc(capacity, 1);
    for (;;) {
        if (n + 1 >= capacity) {
            capacity *= 2;
            data = xrealloc(data, capacity);
        }
        size_t got = fread(data + n, 1, capacity - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) die("cannot read %s", path);
    fclose(f);
    data[n] = 0;
    *length = n;
    return data;
}

/* Calls `each(line, length, number, context)` for every non-blank line of `data` (in place). */
typedef void (*line_fn)(char *line, size_t length, size_t number, void *context);
static void for_each_line(char *data, size_t length, line_fn each, void *context) {
    size_t number = 0;
    char *p = data, *end = data + length;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        number++;
        int blank = 1;
        for (size_t i = 0; i < n; i++) {
            if (p[i] != ' ' && p[i] != '\t') {
                blank = 0;
                break;
            }
        }
        if (!blank) each(p, n, number, context);
        p = nl ? nl + 1 : end;
    }
}

/* "spiffe://td/ns/NS/sa/NAME" -> "NS/NAME" (a fresh string); anything else is copied. */
static char *identity_key(const char *s, size_t n, size_t *out_length) {
    const char *prefix = "spiffe://";
    size_t pl = strlen(prefix);
    if (n > pl && memcmp(s, prefix, pl) == 0) {
        const char *p = memchr(s + pl, '/', n - pl);
        if (p != NULL) {
            const char *end = s + n;
            p++;
            if ((size_t)(end - p) > 3 && memcmp(p, "ns/", 3) == 0) {
                const char *ns = p + 3;
                const char *slash = memchr(ns, '/', (size_t)(end - ns));
                if (slash != NULL && (size_t)(end - slash) > 4 && memcmp(slash, "/sa/", 4) == 0) {
                    const char *name = slash + 4;
                    size_t nsl = (size_t)(slash - ns), namel = (size_t)(end - name);
                    char *key = xcalloc(nsl + 1 + namel + 1, 1);
                    memcpy(key, ns, nsl);
                    key[nsl] = '/';
                    memcpy(key + nsl + 1, name, namel);
                    *out_length = nsl + 1 + namel;
                    return key;
                }
            }
        }
    }
    char *key = xcalloc(n + 1, 1);
    memcpy(key, s, n);
    *out_length = n;
    return key;
}

/* ---- interning: identity string -> dense integer ------------------------------------------------ */

typedef struct intern_table {
    char **names;
    size_t *lengths;
    uint32_t count, capacity; /* names */
    uint32_t *slots;          /* index + 1, 0 empty */
    uint32_t slot_mask;
} intern_table;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* The id of the identity `s` (SPIFFE ids are keyed as namespace/name); takes a copy. */
static uint32_t intern(intern_table *t, const char *s, size_t n) {
    size_t kl;
    char *key = identity_key(s, n, &kl);
    if ((t->count + 1) * 2 > t->slot_mask + 1 || t->slots == NULL) {
        uint32_t capacity = t->slots ? (t->slot_mask + 1) * 2 : 1024;
        free(t->slots);
        t->slots = xcalloc(capacity, sizeof *t->slots);
        t->slot_mask = capacity - 1;
        for (uint32_t i = 0; i < t->count; i++) {
            uint32_t j = (uint32_t)fnv1a(t->names[i], t->lengths[i]) & t->slot_mask;
            while (t->slots[j]) j = (j + 1) & t->slot_mask;
            t->slots[j] = i + 1;
        }
    }
    uint32_t j = (uint32_t)fnv1a(key, kl) & t->slot_mask;
    while (t->slots[j]) {
        uint32_t i = t->slots[j] - 1;
        if (str_eq(t->names[i], t->lengths[i], key, kl)) {
            free(key);
            return i;
        }
        j = (j + 1) & t->slot_mask;
    }
    if (t->count == t->capacity) {
        t->capacity = t->capacity ? t->capacity * 2 : 1024;
        t->names = xrealloc(t->names, t->capacity * sizeof *t->names);
        t->lengths = xrealloc(t->lengths, t->capacity * sizeof *t->lengths);
    }
    t->names[t->count] = key;
    t->lengths[t->count] = kl;
    t->slots[j] = t->count + 1;
    return t->count++;
}

/* ---- rules.jsonl ------------------------------------------------------------------------------- */

enum { PROTO_HTTP = SMI_PROTOCOL_HTTP, PROTO_TCP = SMI_PROTOCOL_TCP, PROTO_UDP = SMI_PROTOCOL_UDP };

typedef struct text {
    const char *data;
    size_t length;
} text;

typedef struct rule_header {
    text name; /* lower-case */
    pcre2_code *regex;
} rule_header;

typedef struct rule {
    text tt;
    text destination; /* namespace/name */
    uint32_t destination_id;
    text *sources;
    uint32_t *source_ids;
    size_t source_count;
    int protocol;
    int covers_http; /* a TCP rule of a TrafficTarget with no HTTP rule grants HTTP too */
    uint32_t *ports;
    size_t port_count; /* 0: any port */
    text *methods;
    size_t method_count;
    int any_method; /* no list, an empty list, or "*" in it */
    pcre2_code *path; /* NULL: any path */
    rule_header *headers;
    size_t header_count;
} rule;

typedef struct rule_set {
    rule *rules;
    size_t count, capacity;
    size_t traffic_targets;
    uint32_t max_captures;
    json_document json;
    intern_table *ids;
    const char *file;
} rule_set;

static pcre2_code *compile_regex(const char *pattern, size_t length, uint32_t options, const char *where) {
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, length, options, &error, &offset, NULL);
    if (code == NULL) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        die("%s: cannot compile `%.*s`: %s at %zu", where, (int)length, pattern, message, (size_t)offset);
    }
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) die("%s: no JIT for `%.*s`", where, (int)length, pattern);
    return code;
}

static text text_of(const json_value *v) {
    text t = {v->text, v->length};
    return t;
}

static const json_value *member(json_document *d, const json_value *o, const char *key, json_type type,
                                int required, size_t line) {
    const json_value *v = json_member(d, o, key);
    if (v == NULL) {
        if (required) die("line %zu: `%s` is missing", line, key);
        return NULL;
    }
    if (v->type != type && !(type == JSON_NUMBER && v->type == JSON_INTEGER)) {
        die("line %zu: `%s` is %s", line, key, json_type_name(v));
    }
    return v;
}

static void lower_case(char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] - 'A' + 'a');
    }
}

static void load_rule(char *line, size_t length, size_t number, void *context) {
    rule_set *set = context;
    char message[256];
    if (json_parse(&set->json, line, length, message, sizeof message) != 0) {
        die("%s:%zu: %s", set->file, number, message);
    }
    json_document *d = &set->json;
    const json_value *o = json_root(d);
    if (o->type != JSON_OBJECT) die("%s:%zu: not an object", set->file, number);
    if (set->count == set->capacity) {
        set->capacity = set->capacity ? set->capacity * 2 : 256;
        set->rules = xrealloc(set->rules, set->capacity * sizeof *set->rules);
    }
    rule *r = &set->rules[set->count];
    memset(r, 0, sizeof *r);
    r->tt = text_of(member(d, o, "tt", JSON_STRING, 1, number));
    if (set->count == 0 || !str_eq(r->tt.data, r->tt.length, set->rules[set->count - 1].tt.data,
                                   set->rules[set->count - 1].tt.length)) {
        set->traffic_targets++;
    }
    const json_value *dst = member(d, o, "destination", JSON_STRING, 1, number);
    size_t kl;
    r->destination.data = identity_key(dst->text, dst->length, &kl);
    r->destination.length = kl;
    r->destination_id = intern(set->ids, dst->text, dst->length);

    const json_value *sources = member(d, o, "sources", JSON_ARRAY, 1, number);
    size_t n = 0;
    for (const json_value *v = json_first(d, sources); v; v = json_next(d, v)) n++;
    r->sources = xcalloc(n, sizeof *r->sources);
    r->source_ids = xcalloc(n, sizeof *r->source_ids);
    for (const json_value *v = json_first(d, sources); v; v = json_next(d, v)) {
        if (v->type != JSON_STRING) die("%s:%zu: a source is %s", set->file, number, json_type_name(v));
        r->sources[r->source_count].data = identity_key(v->text, v->length, &kl);
        r->sources[r->source_count].length = kl;
        r->source_ids[r->source_count++] = intern(set->ids, v->text, v->length);
    }

    const json_value *protocol = member(d, o, "protocol", JSON_STRING, 1, number);
    if (cstr_eq(protocol->text, protocol->length, "http")) {
        r->protocol = PROTO_HTTP;
    } else if (cstr_eq(protocol->text, protocol->length, "tcp")) {
        r->protocol = PROTO_TCP;
    } else if (cstr_eq(protocol->text, protocol->length, "udp")) {
        r->protocol = PROTO_UDP;
    } else {
        die("%s:%zu: unknown protocol", set->file, number);
    }

    const json_value *ports = member(d, o, "ports", JSON_ARRAY, 0, number);
    if (ports != NULL) {
        n = 0;
        for (const json_value *v = json_first(d, ports); v; v = json_next(d, v)) n++;
        r->ports = xcalloc(n, sizeof *r->ports);
        for (const json_value *v = json_first(d, ports); v; v = json_next(d, v)) {
            uint64_t port;
            if (json_uint64(v, &port) != 0 || port > 65535) die("%s:%zu: bad port", set->file, number);
            r->ports[r->port_count++] = (uint32_t)port;
        }
    }

    const json_value *methods = member(d, o, "methods", JSON_ARRAY, 0, number);
    int star = 0;
    if (methods != NULL) {
        n = 0;
        for (const json_value *v = json_first(d, methods); v; v = json_next(d, v)) n++;
        r->methods = xcalloc(n, sizeof *r->methods);
        for (const json_value *v = json_first(d, methods); v; v = json_next(d, v)) {
            if (v->type != JSON_STRING) die("%s:%zu: a method is %s", set->file, number, json_type_name(v));
            if (cstr_eq(v->text, v->length, "*")) star = 1;
            r->methods[r->method_count++] = text_of(v);
        }
    }
    r->any_method = star || r->method_count == 0;

    char where[64];
    snprintf(where, sizeof where, "%s:%zu", set->file, number);
    const json_value *path = member(d, o, "pathRegex", JSON_STRING, 0, number);
    if (path != NULL) {
        r->path = compile_regex(path->text, path->length, PCRE2_ANCHORED | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, where);
    }
    const json_value *headers = member(d, o, "headers", JSON_OBJECT, 0, number);
    if (headers != NULL) {
        n = 0;
        for (const json_value *v = json_first(d, headers); v; v = json_next(d, v)) n++;
        r->headers = xcalloc(n, sizeof *r->headers);
        for (const json_value *v = json_first(d, headers); v; v = json_next(d, v)) {
            if (v->type != JSON_STRING) die("%s:%zu: a header regex is %s", set->file, number, json_type_name(v));
            rule_header *h = &r->headers[r->header_count++];
            lower_case((char *)v->key, v->key_length);
            h->name.data = v->key;
            h->name.length = v->key_length;
            h->regex = compile_regex(v->text, v->length,
                                     PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, where);
        }
    }
    set->count++;
}

/* A TCP rule grants HTTP when its TrafficTarget has no HTTP rule (SEMANTICS.md section 3). */
static void mark_l4_http_grants(rule_set *set) {
    size_t start = 0;
    while (start < set->count) {
        size_t end = start;
        int has_http = 0;
        while (end < set->count && str_eq(set->rules[end].tt.data, set->rules[end].tt.length,
                                          set->rules[start].tt.data, set->rules[start].tt.length)) {
            if (set->rules[end].protocol == PROTO_HTTP) has_http = 1;
            end++;
        }
        for (size_t i = start; i < end; i++) {
            set->rules[i].covers_http = !has_http && set->rules[i].protocol == PROTO_TCP;
        }
        start = end;
    }
}

/* ---- requests ---------------------------------------------------------------------------------- */

enum { CLASS_HTTP_PATH, CLASS_HTTP_HEADERS, CLASS_TCP, CLASS_SPLIT, CLASS_COUNT };
static const char *const class_names[CLASS_COUNT] = {"http-path", "http-headers", "tcp", "split"};

typedef struct request {
    int cls;
    int is_split;
    smi_access_request access;
    smi_split_request split;
    /* the baselines' view: interned identities and normalized names */
    uint32_t source_id, destination_id;
    text source, destination;
    uint32_t protocol, port;
    text method, path;
    const smi_header *headers;
    size_t header_count;
    /* expected.jsonl */
    int expect_allowed;
    text expect_reason;  /* deny reason; empty when allowed */
    text expect_backend; /* split: {NULL, 0} when not given */
    text expect_target;  /* allowed: the granting TrafficTarget, {NULL, 0} when not given */
    text expect_match;   /* allowed: the granting match, {NULL, 0} when not given */
    /* the engine's answer, for the baselines' comparison */
    int engine_allowed;
    int plain_path; /* http: the engine's normalized path is the raw path less its query; others: 1 */
    size_t line;
} request;

typedef struct request_set {
    request *items;
    size_t count, capacity;
    json_document json;
    intern_table *ids;
    const char *file;
} request_set;

static int class_of(const char *s, size_t n) {
    for (int c = 0; c < CLASS_COUNT; c++) {
        if (cstr_eq(s, n, class_names[c])) return c;
    }
    return -1;
}

static void load_request(char *line, size_t length, size_t number, void *context) {
    request_set *set = context;
    char message[256];
    if (json_parse(&set->json, line, length, message, sizeof message) != 0) {
        die("%s:%zu: %s", set->file, number, message);
    }
    json_document *d = &set->json;
    const json_value *o = json_root(d);
    if (o->type != JSON_OBJECT) die("%s:%zu: not an object", set->file, number);
    if (set->count == set->capacity) {
        set->capacity = set->capacity ? set->capacity * 2 : 1024;
        set->items = xrealloc(set->items, set->capacity * sizeof *set->items);
    }
    request *q = &set->items[set->count];
    memset(q, 0, sizeof *q);
    q->line = number;
    q->plain_path = 1;

    smi_header *headers = NULL;
    size_t header_count = 0;
    const json_value *h = member(d, o, "headers", JSON_OBJECT, 0, number);
    if (h != NULL) {
        for (const json_value *v = json_first(d, h); v; v = json_next(d, v)) header_count++;
        headers = xcalloc(header_count, sizeof *headers);
        size_t i = 0;
        for (const json_value *v = json_first(d, h); v; v = json_next(d, v), i++) {
            if (v->type != JSON_STRING) die("%s:%zu: a header is %s", set->file, number, json_type_name(v));
            lower_case((char *)v->key, v->key_length);
            headers[i].name.data = v->key;
            headers[i].name.length = v->key_length;
            headers[i].value.data = v->text;
            headers[i].value.length = v->length;
        }
    }
    const json_value *method = member(d, o, "method", JSON_STRING, 0, number);
    const json_value *path = member(d, o, "path", JSON_STRING, 0, number);
    const json_value *port = json_member(d, o, "port");
    uint64_t port_value = 0;
    if (port != NULL && (json_uint64(port, &port_value) != 0 || port_value > 65535)) {
        die("%s:%zu: bad port", set->file, number);
    }
    if (method) q->method = text_of(method);
    if (path) q->path = text_of(path);
    q->headers = headers;
    q->header_count = header_count;
    q->port = (uint32_t)port_value;

    const json_value *type = member(d, o, "type", JSON_STRING, 1, number);
    if (cstr_eq(type->text, type->length, "split")) {
        q->is_split = 1;
        smi_split_request *s = &q->split;
        s->size = sizeof *s;
        const json_value *service = member(d, o, "service", JSON_STRING, 1, number);
        s->service.data = service->text;
        s->service.length = service->length;
        q->destination_id = intern(set->ids, service->text, service->length); /* its service cache */
        const json_value *entropy = json_member(d, o, "entropy");
        if (entropy == NULL || json_uint64(entropy, &s->entropy) != 0) die("%s:%zu: bad entropy", set->file, number);
        if (method) {
            s->flags |= SMI_SPLIT_HAS_METHOD;
            s->method.data = method->text;
            s->method.length = method->length;
        }
        if (path) {
            s->flags |= SMI_SPLIT_HAS_TARGET;
            s->target.data = path->text;
            s->target.length = path->length;
        }
        if (port) {
            s->flags |= SMI_SPLIT_HAS_PORT;
            s->port = (uint32_t)port_value;
        }
        s->headers = headers;
        s->header_count = header_count;
    } else if (cstr_eq(type->text, type->length, "access")) {
        smi_access_request *a = &q->access;
        a->size = sizeof *a;
        const json_value *src = member(d, o, "source", JSON_STRING, 1, number);
        const json_value *dst = member(d, o, "destination", JSON_STRING, 1, number);
        const json_value *protocol = member(d, o, "protocol", JSON_STRING, 1, number);
        if (port == NULL) die("%s:%zu: `port` is missing", set->file, number);
        a->source_name.data = src->text;
        a->source_name.length = src->length;
        a->destination_name.data = dst->text;
        a->destination_name.length = dst->length;
        if (cstr_eq(protocol->text, protocol->length, "http")) {
            a->protocol = SMI_PROTOCOL_HTTP;
        } else if (cstr_eq(protocol->text, protocol->length, "tcp")) {
            a->protocol = SMI_PROTOCOL_TCP;
        } else if (cstr_eq(protocol->text, protocol->length, "udp")) {
            a->protocol = SMI_PROTOCOL_UDP;
        } else {
            die("%s:%zu: unknown protocol", set->file, number);
        }
        a->port = (uint32_t)port_value;
        if (method) {
            a->method.data = method->text;
            a->method.length = method->length;
        }
        if (path) {
            a->target.data = path->text;
            a->target.length = path->length;
        }
        a->headers = headers;
        a->header_count = header_count;
        q->protocol = a->protocol;
        size_t kl;
        q->source.data = identity_key(src->text, src->length, &kl);
        q->source.length = kl;
        q->destination.data = identity_key(dst->text, dst->length, &kl);
        q->destination.length = kl;
        q->source_id = intern(set->ids, src->text, src->length);
        q->destination_id = intern(set->ids, dst->text, dst->length);
    } else {
        die("%s:%zu: unknown type", set->file, number);
    }
    set->count++;
}

typedef struct expected_reader {
    request_set *requests;
    size_t index;
    json_document json;
    const char *file;
} expected_reader;

static void load_expected(char *line, size_t length, size_t number, void *context) {
    expected_reader *e = context;
    char message[256];
    if (json_parse(&e->json, line, length, message, sizeof message) != 0) die("%s:%zu: %s", e->file, number, message);
    if (e->index >= e->requests->count) die("%s: more lines than requests", e->file);
    request *q = &e->requests->items[e->index++];
    json_document *d = &e->json;
    const json_value *o = json_root(d);
    const json_value *cls = member(d, o, "class", JSON_STRING, 1, number);
    const json_value *outcome = member(d, o, "outcome", JSON_STRING, 1, number);
    const json_value *backend = member(d, o, "backend", JSON_STRING, 0, number);
    const json_value *target = member(d, o, "trafficTarget", JSON_STRING, 0, number);
    const json_value *match = member(d, o, "match", JSON_STRING, 0, number);
    q->cls = class_of(cls->text, cls->length);
    if (q->cls < 0) die("%s:%zu: unknown class `%.*s`", e->file, number, (int)cls->length, cls->text);
    if (q->is_split != (q->cls == CLASS_SPLIT)) die("%s:%zu: class does not fit the request", e->file, number);
    if (cstr_eq(outcome->text, outcome->length, "allow")) {
        q->expect_allowed = 1;
    } else if (outcome->length > 5 && memcmp(outcome->text, "deny:", 5) == 0) {
        q->expect_reason.data = outcome->text + 5;
        q->expect_reason.length = outcome->length - 5;
    } else if (!cstr_eq(outcome->text, outcome->length, "backend")) {
        die("%s:%zu: unknown outcome", e->file, number);
    }
    if (backend) q->expect_backend = text_of(backend);
    if (target) q->expect_target = text_of(target);
    if (match) q->expect_match = text_of(match);
}

/* ---- the floor's table: (source id, destination id, protocol and port) -> first rule ------------ */

#define ANY_PORT 65536u

typedef struct floor_entry {
    uint32_t source, destination, key; /* key: protocol << 17 | port (ANY_PORT: every port) */
    uint32_t rule;                     /* UINT32_MAX: empty slot */
    const rule *target;                /* the rule itself, so a hit reads its regex directly */
} floor_entry;

typedef struct floor_table {
    floor_entry *slots;
    uint32_t *counts; /* rules that apply to the slot's key, for the comparison only */
    uint64_t mask;
    size_t used;
} floor_table;

static inline uint64_t floor_hash(uint32_t source, uint32_t destination, uint32_t key) {
    uint64_t h = ((uint64_t)source << 32 | destination) * 0x9E3779B97F4A7C15u;
    h ^= (uint64_t)key * 0xC2B2AE3D27D4EB4Fu;
    return h ^ (h >> 29);
}

static inline const floor_entry *floor_find(const floor_table *t, uint32_t source, uint32_t destination,
                                            uint32_t key) {
    uint64_t i = floor_hash(source, destination, key) & t->mask;
    for (;;) {
        const floor_entry *e = &t->slots[i];
        if (e->rule == UINT32_MAX) return NULL;
        if (e->source == source && e->destination == destination && e->key == key) return e;
        i = (i + 1) & t->mask;
    }
}

static void floor_put(floor_table *t, uint32_t source, uint32_t destination, uint32_t key, uint32_t rule_index,
                      const rule *r) {
    uint64_t i = floor_hash(source, destination, key) & t->mask;
    for (;;) {
        floor_entry *e = &t->slots[i];
        if (e->rule == UINT32_MAX) {
            e->source = source;
            e->destination = destination;
            e->key = key;
            e->rule = rule_index;
            e->target = r;
            t->counts[i] = 1;
            t->used++;
            return;
        }
        if (e->source == source && e->destination == destination && e->key == key) {
            t->counts[i]++; /* the first rule stays */
            return;
        }
        i = (i + 1) & t->mask;
    }
}

static void floor_build(floor_table *t, const rule_set *rules) {
    size_t keys = 0;
    for (size_t i = 0; i < rules->count; i++) {
        const rule *r = &rules->rules[i];
        keys += r->source_count * (r->port_count ? r->port_count : 1) * (r->covers_http ? 2 : 1);
    }
    uint64_t capacity = 16;
    while (capacity < keys * 2) capacity *= 2;
    t->slots = xcalloc(capacity, sizeof *t->slots);
    t->counts = xcalloc(capacity, sizeof *t->counts);
    for (uint64_t i = 0; i < capacity; i++) t->slots[i].rule = UINT32_MAX;
    t->mask = capacity - 1;
    for (size_t i = 0; i < rules->count; i++) {
        const rule *r = &rules->rules[i];
        for (int pass = 0; pass < (r->covers_http ? 2 : 1); pass++) {
            uint32_t protocol = pass ? PROTO_HTTP : (uint32_t)r->protocol;
            for (size_t s = 0; s < r->source_count; s++) {
                if (r->port_count == 0) {
                    floor_put(t, r->source_ids[s], r->destination_id, protocol << 17 | ANY_PORT, (uint32_t)i, r);
                }
                for (size_t p = 0; p < r->port_count; p++) {
                    floor_put(t, r->source_ids[s], r->destination_id, protocol << 17 | r->ports[p], (uint32_t)i, r);
                }
            }
        }
    }
}

/* ---- the three contenders ----------------------------------------------------------------------- */

typedef struct bench {
    smi_policy *policy;
    smi_scratch *scratch;
    smi_identity *identities; /* by interned id */
    rule_set *rules;
    floor_table floor;
    pcre2_match_data *match;
} bench;

static inline int regex_matches(const pcre2_code *code, const char *s, size_t n, pcre2_match_data *match) {
    return pcre2_jit_match(code, (PCRE2_SPTR)s, n, 0, 0, match, NULL) >= 0;
}

static inline int headers_match(const rule *r, const request *q, pcre2_match_data *match) {
    for (size_t i = 0; i < r->header_count; i++) {
        const rule_header *h = &r->headers[i];
        size_t j = 0;
        while (j < q->header_count && !str_eq(q->headers[j].name.data, q->headers[j].name.length, h->name.data,
                                              h->name.length)) {
            j++;
        }
        if (j == q->header_count) return 0;
        if (!regex_matches(h->regex, q->headers[j].value.data, q->headers[j].value.length, match)) return 0;
    }
    return 1;
}

static inline int engine_decide(bench *b, const request *q) {
    if (q->is_split) {
        smi_split_decision d;
        d.size = sizeof d;
        smi_policy_select_backend(&d, b->policy, b->scratch, &q->split);
        return (int)d.backend.length;
    }
    smi_access_decision d;
    d.size = sizeof d;
    smi_policy_decide_access(&d, b->policy, b->scratch, &q->access);
    return d.allowed;
}

static inline const floor_entry *floor_lookup(const bench *b, const request *q) {
    const floor_entry *e = floor_find(&b->floor, q->source_id, q->destination_id, q->protocol << 17 | q->port);
    if (e == NULL) e = floor_find(&b->floor, q->source_id, q->destination_id, q->protocol << 17 | ANY_PORT);
    return e;
}

static inline int floor_decide(bench *b, const request *q) {
    const floor_entry *e = floor_lookup(b, q);
    if (e == NULL) return 0;
    const rule *r = e->target;
    if (q->protocol != PROTO_HTTP) return 1;
    if (r->path != NULL && !regex_matches(r->path, q->path.data, q->path.length, b->match)) return 0;
    return r->header_count == 0 || headers_match(r, q, b->match);
}

static inline int scan_decide(bench *b, const request *q) {
    const rule *rules = b->rules->rules;
    size_t count = b->rules->count;
    for (size_t i = 0; i < count; i++) {
        const rule *r = &rules[i];
        if (!str_eq(r->destination.data, r->destination.length, q->destination.data, q->destination.length)) continue;
        size_t s = 0;
        while (s < r->source_count &&
               !str_eq(r->sources[s].data, r->sources[s].length, q->source.data, q->source.length)) {
            s++;
        }
        if (s == r->source_count) continue;
        if ((uint32_t)r->protocol != q->protocol && !(q->protocol == PROTO_HTTP && r->covers_http)) continue;
        if (r->port_count) {
            size_t p = 0;
            while (p < r->port_count && r->ports[p] != q->port) p++;
            if (p == r->port_count) continue;
        }
        if (q->protocol != PROTO_HTTP || r->protocol != PROTO_HTTP) return 1;
        if (!r->any_method) {
            size_t m = 0;
            while (m < r->method_count &&
                   !str_eq(r->methods[m].data, r->methods[m].length, q->method.data, q->method.length)) {
                m++;
            }
            if (m == r->method_count) continue;
        }
        if (r->path != NULL && !regex_matches(r->path, q->path.data, q->path.length, b->match)) continue;
        if (r->header_count && !headers_match(r, q, b->match)) continue;
        return 1;
    }
    return 0;
}

enum { ENGINE, FLOOR, SCAN, CONTENDER_COUNT };
static const char *const contender_names[CONTENDER_COUNT] = {"engine", "floor", "scan"};

/* Decides `count` requests from *cursor on, wrapping around; returns the number allowed. */
typedef uint64_t (*batch_fn)(bench *b, const request *items, size_t n, size_t *cursor, size_t count);

#define BATCH_FUNCTION(name, decide)                                                                      \
    static uint64_t name(bench *b, const request *items, size_t n, size_t *cursor, size_t count) {        \
        uint64_t sum = 0;                                                                                 \
        size_t i = *cursor;                                                                               \
        for (size_t k = 0; k < count; k++) {                                                              \
            sum += (uint64_t)decide(b, &items[i]);                                                        \
            if (++i == n) i = 0;                                                                          \
        }                                                                                                 \
        *cursor = i;                                                                                      \
        return sum;                                                                                       \
    }
BATCH_FUNCTION(engine_batch, engine_decide)
BATCH_FUNCTION(floor_batch, floor_decide)
BATCH_FUNCTION(scan_batch, scan_decide)

static const batch_fn batch_functions[CONTENDER_COUNT] = {engine_batch, floor_batch, scan_batch};

/* ---- measurement --------------------------------------------------------------------------------- */

typedef struct options {
    double rep_seconds;
    double warmup_seconds;
    int reps;
    size_t batch;
    long targets;
    const char *run;
    const char *json_path;
    const char *dir;
    int contenders[CONTENDER_COUNT];
    int classes[CLASS_COUNT];
    size_t passes; /* --passes K: no timing, K passes over each class (for callgrind, perf stat) */
    size_t slowest; /* --slowest K: print the K slowest requests of each class for the engine */
    size_t hot;     /* --hot K: also measure engine and floor on the first K requests of each class */
} options;

typedef struct result {
    int measured;
    double median_ns, p99_ns, min_ns, max_ns;
    uint64_t decisions;
    size_t requests;
    size_t compared, mismatches;
} result;

static volatile uint64_t sink;

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int compare_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static result measure(bench *b, batch_fn fn, const request *items, size_t n, const options *o) {
    result r;
    memset(&r, 0, sizeof r);
    r.requests = n;
    if (n == 0) return r;
    if (o->passes > 0) {
        size_t cursor = 0;
        sink += fn(b, items, n, &cursor, n * o->passes);
        return r;
    }
    size_t batch = o->batch;
    size_t cursor = 0;
    uint64_t sum = 0;

    /* warm-up: at least one pass over the requests and warmup_seconds; also estimates the cost */
    uint64_t start = now_ns(), batches = 0, passes_target = (n + batch - 1) / batch;
    for (;;) {
        sum += fn(b, items, n, &cursor, batch);
        batches++;
        uint64_t elapsed = now_ns() - start;
        if (batches >= passes_target && elapsed >= (uint64_t)(o->warmup_seconds * 1e9)) break;
    }
    double batch_ns = (double)(now_ns() - start) / (double)batches;
    uint64_t per_rep = (uint64_t)(o->rep_seconds * 1e9 / batch_ns);
    if (per_rep < 1) per_rep = 1;

    double *reps = xcalloc((size_t)o->reps, sizeof *reps);
    size_t sample_count = (size_t)per_rep * (size_t)o->reps;
    float *samples = xcalloc(sample_count, sizeof *samples);
    size_t s = 0;
    for (int k = 0; k < o->reps; k++) {
        uint64_t rep_start = now_ns(), t0 = rep_start;
        for (uint64_t j = 0; j < per_rep; j++) {
            sum += fn(b, items, n, &cursor, batch);
            uint64_t t1 = now_ns();
            samples[s++] = (float)((double)(t1 - t0) / (double)batch);
            t0 = t1;
        }
        reps[k] = (double)(t0 - rep_start) / (double)(per_rep * batch);
    }
    sink += sum;
    qsort(reps, (size_t)o->reps, sizeof *reps, compare_double);
    qsort(samples, sample_count, sizeof *samples, compare_float);
    r.measured = 1;
    r.median_ns = reps[o->reps / 2];
    r.min_ns = reps[0];
    r.max_ns = reps[o->reps - 1];
    size_t p99 = (size_t)ceil(0.99 * (double)sample_count);
    r.p99_ns = samples[p99 ? p99 - 1 : 0];
    r.decisions = per_rep * batch * (uint64_t)o->reps;
    free(reps);
    free(samples);
    return r;
}

/* ---- engine set-up and checks ---------------------------------------------------------------- */

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes the allocator has handed out and not got back (glibc's mallinfo2), in KB; -1 elsewhere.
 * The compile's growth of it is the heap the policy holds: RSS also keeps what the compiler freed. */
static long heap_in_use_kb(void) {
#ifdef __GLIBC__
    return (long)(mallinfo2().uordblks / 1024);
#else
    return -1;
#endif
}

static long peak_rss_kb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static smi_policy *compile_policy(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/policy", dir);
    smi_string name = {path, strlen(path)};
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;
    smi_status status = smi_policy_compile_paths(&policy, &diagnostics, &name, 1, NULL);
    size_t errors = smi_diagnostics_error_count(diagnostics);
    size_t shown = 0;
    for (size_t i = 0; i < smi_diagnostics_count(diagnostics) && shown < 10; i++) {
        smi_diagnostic d;
        memset(&d, 0, sizeof d);
        d.size = sizeof d;
        if (smi_diagnostics_get(diagnostics, i, &d) == SMI_OK && (d.severity == SMI_SEVERITY_ERROR || errors == 0)) {
            fprintf(stderr, "%.*s\n", (int)d.text.length, d.text.data);
            shown++;
        }
    }
    if (smi_diagnostics_count(diagnostics) > shown) {
        fprintf(stderr, "bench: %zu diagnostics (%zu errors)\n", smi_diagnostics_count(diagnostics), errors);
    }
    smi_diagnostics_free(diagnostics);
    if (status != SMI_OK) die("the policy in %s does not compile: %s", path, smi_status_string(status));
    return policy;
}

/* Decides every request once with the engine and compares with expected.jsonl. */
static size_t check_engine(bench *b, request_set *requests, size_t *per_class) {
    size_t mismatches = 0;
    for (size_t i = 0; i < requests->count; i++) {
        request *q = &requests->items[i];
        int ok;
        char got[256];
        if (q->is_split) {
            smi_split_decision d;
            memset(&d, 0, sizeof d);
            d.size = sizeof d;
            smi_status status = smi_policy_select_backend(&d, b->policy, b->scratch, &q->split);
            ok = status == SMI_OK && d.backend.length > 0 &&
                 (q->expect_backend.data == NULL ||
                  str_eq(d.backend.data, d.backend.length, q->expect_backend.data, q->expect_backend.length));
            snprintf(got, sizeof got, "%s backend %.*s", smi_status_string(status), (int)d.backend.length,
                     d.backend.data ? d.backend.data : "");
        } else {
            smi_access_decision d;
            memset(&d, 0, sizeof d);
            d.size = sizeof d;
            smi_status status = smi_policy_decide_access(&d, b->policy, b->scratch, &q->access);
            const char *reason = smi_reason_string(d.reason);
            ok = status == SMI_OK && (q->expect_allowed ? d.allowed == 1
                                                        : d.allowed == 0 && cstr_eq(q->expect_reason.data,
                                                                                    q->expect_reason.length, reason));
            if (ok && q->expect_allowed && q->expect_target.data != NULL) {
                ok = str_eq(d.traffic_target.data, d.traffic_target.length, q->expect_target.data,
                            q->expect_target.length);
            }
            if (ok && q->expect_allowed && q->expect_match.data != NULL) {
                ok = str_eq(d.match.data, d.match.length, q->expect_match.data, q->expect_match.length);
            }
            q->engine_allowed = d.allowed == 1;
            if (q->protocol == PROTO_HTTP) {
                /* the baselines see the raw target, query included: compare them only where
                 * normalization left the path as it was */
                size_t path_length = q->path.length;
                const char *question = memchr(q->path.data, '?', path_length);
                if (question != NULL) path_length = (size_t)(question - q->path.data);
                q->plain_path = status == SMI_OK && d.normalized_path.data != NULL &&
                                str_eq(d.normalized_path.data, d.normalized_path.length, q->path.data, path_length) &&
                                memchr(q->path.data, '#', q->path.length) == NULL;
            }
            snprintf(got, sizeof got, "%s %s (%.*s %.*s)",
                     status != SMI_OK ? smi_status_string(status) : d.allowed ? "allow" : "deny", d.allowed ? "" : reason,
                     (int)d.traffic_target.length, d.traffic_target.data ? d.traffic_target.data : "",
                     (int)d.match.length, d.match.data ? d.match.data : "");
        }
        if (!ok) {
            if (mismatches < 10) {
                const text *what = q->is_split ? &q->expect_backend : &q->expect_reason;
                fprintf(stderr,
                        "bench: engine mismatch, requests.jsonl line %zu (%s): expected %s%.*s (%.*s %.*s), got %s\n",
                        q->line, class_names[q->cls], q->expect_allowed ? "allow" : q->is_split ? "backend " : "deny ",
                        (int)what->length, what->data ? what->data : "", (int)q->expect_target.length,
                        q->expect_target.data ? q->expect_target.data : "", (int)q->expect_match.length,
                        q->expect_match.data ? q->expect_match.data : "", got);
            }
            mismatches++;
            per_class[q->cls]++;
        }
    }
    return mismatches;
}

/* Must the floor's answer be the whole policy's? When no rule applies to the request's
 * (source, destination, port), both deny; when the floor's rule grants and admits the method,
 * the policy grants too; when that rule is the only one that applies and admits the method, its
 * answer is the policy's. Other requests are not compared. */
static int floor_applies(bench *b, const request *q) {
    if (!q->plain_path) return 0;
    const floor_table *t = &b->floor;
    const floor_entry *exact = floor_find(t, q->source_id, q->destination_id, q->protocol << 17 | q->port);
    const floor_entry *any = floor_find(t, q->source_id, q->destination_id, q->protocol << 17 | ANY_PORT);
    uint32_t candidates = (exact ? t->counts[exact - t->slots] : 0) + (any ? t->counts[any - t->slots] : 0);
    if (candidates == 0) return 1;
    const rule *r = (exact ? exact : any)->target;
    int method_ok = q->protocol != PROTO_HTTP || r->protocol != PROTO_HTTP || r->any_method;
    for (size_t m = 0; !method_ok && m < r->method_count; m++) {
        method_ok = str_eq(r->methods[m].data, r->methods[m].length, q->method.data, q->method.length);
    }
    return method_ok && (candidates == 1 || floor_decide(b, q));
}

/* ---- --slowest: the engine's most expensive requests, each timed alone ---------------------- */

typedef struct timed_request {
    double ns;
    const request *q;
} timed_request;

static int compare_timed(const void *a, const void *b) {
    double x = ((const timed_request *)a)->ns, y = ((const timed_request *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void print_slowest(bench *b, const request_set *requests, const size_t *class_start, size_t k) {
    enum { ROUNDS = 200 };
    for (int c = 0; c < CLASS_COUNT; c++) {
        size_t n = class_start[c + 1] - class_start[c];
        if (n == 0) continue;
        timed_request *t = xcalloc(n, sizeof *t);
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            const request *q = &requests->items[class_start[c] + i];
            uint64_t best = UINT64_MAX;
            for (int round = 0; round < 3; round++) {
                uint64_t t0 = now_ns();
                for (int r = 0; r < ROUNDS; r++) sum += (uint64_t)engine_decide(b, q);
                uint64_t elapsed = now_ns() - t0;
                if (elapsed < best) best = elapsed;
            }
            t[i].ns = (double)best / ROUNDS;
            t[i].q = q;
        }
        sink += sum;
        qsort(t, n, sizeof *t, compare_timed);
        printf("slowest %s requests for the engine (each repeated, best of 3 x %d):\n", class_names[c], ROUNDS);
        for (size_t i = 0; i < k && i < n; i++) {
            printf("  %9.1f ns  requests.jsonl line %zu\n", t[i].ns, t[i].q->line);
        }
        free(t);
    }
}

/* ---- output ---------------------------------------------------------------------------------------- */

static void json_string(FILE *out, const char *s) {
    putc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putc('\\', out);
        if ((unsigned char)*s >= 0x20) putc(*s, out);
    }
    putc('"', out);
}

static void usage(const char *program) {
    fprintf(stderr,
            "usage: %s [--targets N] [--run ID] [--json FILE] [--time SECONDS] [--reps R] [--batch B]\n"
            "          [--warmup SECONDS] [--contenders engine,floor,scan] [--classes http-path,http-headers,tcp,split]\n"
            "          [--passes K] [--hot K] [--slowest K] DIR\n",
            program);
    exit(64);
}

static void parse_options(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->rep_seconds = 0.3;
    o->warmup_seconds = 0.2;
    o->reps = 21;
    o->batch = 64;
    o->targets = -1;
    o->run = "";
    for (int c = 0; c < CONTENDER_COUNT; c++) o->contenders[c] = 1;
    for (int c = 0; c < CLASS_COUNT; c++) o->classes[c] = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (o->dir != NULL) usage(argv[0]);
            o->dir = a;
            continue;
        }
        if (v == NULL) usage(argv[0]);
        i++;
        if (strcmp(a, "--targets") == 0) {
            o->targets = atol(v);
        } else if (strcmp(a, "--run") == 0) {
            o->run = v;
        } else if (strcmp(a, "--json") == 0) {
            o->json_path = v;
        } else if (strcmp(a, "--time") == 0) {
            o->rep_seconds = atof(v);
        } else if (strcmp(a, "--warmup") == 0) {
            o->warmup_seconds = atof(v);
        } else if (strcmp(a, "--reps") == 0) {
            o->reps = atoi(v);
        } else if (strcmp(a, "--batch") == 0) {
            o->batch = (size_t)atol(v);
        } else if (strcmp(a, "--hot") == 0) {
            o->hot = (size_t)atol(v);
        } else if (strcmp(a, "--slowest") == 0) {
            o->slowest = (size_t)atol(v);
        } else if (strcmp(a, "--passes") == 0) {
            o->passes = (size_t)atol(v);
        } else if (strcmp(a, "--classes") == 0) {
            for (int c = 0; c < CLASS_COUNT; c++) o->classes[c] = strstr(v, class_names[c]) != NULL;
        } else if (strcmp(a, "--contenders") == 0) {
            for (int c = 0; c < CONTENDER_COUNT; c++) o->contenders[c] = strstr(v, contender_names[c]) != NULL;
        } else {
            usage(argv[0]);
        }
    }
    if (o->dir == NULL || o->reps < 1 || o->batch < 1 || o->rep_seconds <= 0) usage(argv[0]);
}

static void format_ns(char *out, size_t size, double ns) {
    if (ns >= 1e6) {
        snprintf(out, size, "%.2f ms", ns / 1e6);
    } else if (ns >= 1e4) {
        snprintf(out, size, "%.1f us", ns / 1e3);
    } else {
        snprintf(out, size, "%.1f ns", ns);
    }
}

int main(int argc, char **argv) {
    options o;
    parse_options(argc, argv, &o);
    if (smi_abi_version() != SMI_ABI_VERSION) {
        die("built for ABI %d, the library has ABI %u", SMI_ABI_VERSION, (unsigned)smi_abi_version());
    }
    char loadavg[64] = "";
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fgets(loadavg, sizeof loadavg, la) == NULL) loadavg[0] = 0;
        loadavg[strcspn(loadavg, "\n")] = 0;
        fclose(la);
    }

    /* 1. the engine first, so that its peak RSS is the compile's and the library's */
    bench b;
    memset(&b, 0, sizeof b);
    long rss_start = rss_kb(), heap_start = heap_in_use_kb();
    uint64_t t0 = now_ns();
    b.policy = compile_policy(o.dir);
    double compile_ms = (double)(now_ns() - t0) / 1e6;
    long engine_peak_kb = peak_rss_kb(), engine_rss_kb = rss_kb();
    long policy_heap_kb = heap_start < 0 ? -1 : heap_in_use_kb() - heap_start;
    if (smi_scratch_create(&b.scratch) != SMI_OK) die("cannot create a scratch");

    /* 2. requests, expected answers, rules */
    intern_table ids;
    memset(&ids, 0, sizeof ids);
    char path[4096];
    size_t length;
    request_set requests;
    memset(&requests, 0, sizeof requests);
    requests.ids = &ids;
    snprintf(path, sizeof path, "%s/requests.jsonl", o.dir);
    requests.file = "requests.jsonl";
    char *requests_text = read_file(path, &length);
    for_each_line(requests_text, length, load_request, &requests);

    expected_reader expected;
    memset(&expected, 0, sizeof expected);
    expected.requests = &requests;
    expected.file = "expected.jsonl";
    snprintf(path, sizeof path, "%s/expected.jsonl", o.dir);
    char *expected_text = read_file(path, &length);
    for_each_line(expected_text, length, load_expected, &expected);
    if (expected.index != requests.count) die("expected.jsonl has %zu lines for %zu requests", expected.index, requests.count);

    rule_set rules;
    memset(&rules, 0, sizeof rules);
    rules.ids = &ids;
    rules.file = "rules.jsonl";
    snprintf(path, sizeof path, "%s/rules.jsonl", o.dir);
    t0 = now_ns();
    char *rules_text = read_file(path, &length);
    for_each_line(rules_text, length, load_rule, &rules);
    mark_l4_http_grants(&rules);
    double scan_build_ms = (double)(now_ns() - t0) / 1e6;
    b.rules = &rules;
    t0 = now_ns();
    floor_build(&b.floor, &rules);
    double floor_build_ms = scan_build_ms + (double)(now_ns() - t0) / 1e6;
    b.match = pcre2_match_data_create(1, NULL);
    long targets = o.targets >= 0 ? o.targets : (long)rules.traffic_targets;

    /* 3. identities resolved once per distinct identity, as a proxy does per connection */
    b.identities = xcalloc(ids.count, sizeof *b.identities);
    for (uint32_t i = 0; i < ids.count; i++) {
        smi_string name = {ids.names[i], ids.lengths[i]};
        if (smi_identity_resolve(&b.identities[i], b.policy, name) != SMI_OK) die("cannot resolve %s", ids.names[i]);
    }
    for (size_t i = 0; i < requests.count; i++) {
        request *q = &requests.items[i];
        if (q->is_split) {
            q->split.service_cache = &b.identities[q->destination_id];
        } else {
            q->access.source = &b.identities[q->source_id];
            q->access.destination = &b.identities[q->destination_id];
        }
    }

    /* 4. group the requests by class (stable), then check every answer */
    request *sorted = xcalloc(requests.count, sizeof *sorted);
    size_t class_start[CLASS_COUNT + 1], k = 0;
    for (int c = 0; c < CLASS_COUNT; c++) {
        class_start[c] = k;
        for (size_t i = 0; i < requests.count; i++) {
            if (requests.items[i].cls == c) sorted[k++] = requests.items[i];
        }
    }
    class_start[CLASS_COUNT] = k;
    free(requests.items);
    requests.items = sorted;

    size_t engine_wrong[CLASS_COUNT] = {0};
    size_t engine_mismatches = check_engine(&b, &requests, engine_wrong);
    result results[CONTENDER_COUNT][CLASS_COUNT];
    memset(results, 0, sizeof results);
    for (int c = 0; c < CLASS_COUNT; c++) {
        results[ENGINE][c].compared = class_start[c + 1] - class_start[c];
        results[ENGINE][c].mismatches = engine_wrong[c];
    }
    for (size_t i = 0; i < requests.count; i++) {
        const request *q = &requests.items[i];
        if (q->is_split || !q->plain_path) continue;
        results[SCAN][q->cls].compared++;
        if (scan_decide(&b, q) != q->engine_allowed) {
            if (results[SCAN][q->cls].mismatches++ < 5) {
                fprintf(stderr, "bench: scan differs from the engine at requests.jsonl line %zu\n", q->line);
            }
        }
        if (!floor_applies(&b, q)) continue;
        results[FLOOR][q->cls].compared++;
        if (floor_decide(&b, q) != q->engine_allowed) {
            if (results[FLOOR][q->cls].mismatches++ < 5) {
                fprintf(stderr, "bench: floor differs from the engine at requests.jsonl line %zu\n", q->line);
            }
        }
    }

    if (o.slowest > 0) print_slowest(&b, &requests, class_start, o.slowest);

    /* 5. measure: every request of each class; then, with --hot K, the first K of each class
     * only, a working set small enough to stay in the caches */
    result hot[CONTENDER_COUNT][CLASS_COUNT];
    memset(hot, 0, sizeof hot);
    for (int pass = 0; pass < (o.hot > 0 ? 2 : 1); pass++) {
        for (int c = 0; c < CLASS_COUNT; c++) {
            const request *items = requests.items + class_start[c];
            size_t n = class_start[c + 1] - class_start[c];
            if (pass == 1 && n > o.hot) n = o.hot;
            for (int x = 0; x < CONTENDER_COUNT; x++) {
                if (!o.contenders[x] || !o.classes[c] || (x != ENGINE && c == CLASS_SPLIT) || (pass == 1 && x == SCAN)) continue;
                result *r = pass == 0 ? &results[x][c] : &hot[x][c];
                size_t compared = results[x][c].compared, mismatches = results[x][c].mismatches;
                *r = measure(&b, batch_functions[x], items, n, &o);
                r->compared = compared;
                r->mismatches = mismatches;
                fprintf(stderr, "bench: N=%ld %-6s %-12s %s %10.1f ns\n", targets, contender_names[x], class_names[c],
                        pass == 0 ? "all" : "hot", r->median_ns);
            }
        }
    }
    long final_peak_kb = peak_rss_kb();

    /* 6. JSON lines */
    FILE *out = stdout;
    if (o.json_path != NULL) {
        out = fopen(o.json_path, "a");
        if (out == NULL) die("cannot open %s: %s", o.json_path, strerror(errno));
    }
    char hot_name[32];
    snprintf(hot_name, sizeof hot_name, "hot%zu", o.hot);
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0; c < CLASS_COUNT; c++) {
            for (int x = 0; x < CONTENDER_COUNT; x++) {
                const result *r = pass == 0 ? &results[x][c] : &hot[x][c];
                if (!r->measured) continue;
                fputs("{\"run\":", out);
                json_string(out, o.run);
                fprintf(out,
                        ",\"set\":\"%s\",\"targets\":%ld,\"rules\":%zu,\"contender\":\"%s\",\"class\":\"%s\","
                        "\"requests\":%zu,\"median_ns\":%.2f,\"p99_ns\":%.2f,\"min_ns\":%.2f,\"max_ns\":%.2f,"
                        "\"decisions\":%" PRIu64 ",\"reps\":%d,\"batch\":%zu,\"compared\":%zu,\"mismatches\":%zu",
                        pass == 0 ? "all" : hot_name, targets, rules.count, contender_names[x], class_names[c],
                        r->requests, r->median_ns, r->p99_ns, r->min_ns, r->max_ns, r->decisions, o.reps, o.batch,
                        r->compared, r->mismatches);
                if (x == ENGINE) {
                    fprintf(out,
                            ",\"compile_ms\":%.1f,\"peak_rss_kb\":%ld,\"rss_kb\":%ld,\"start_rss_kb\":%ld,"
                            "\"policy_heap_kb\":%ld",
                            compile_ms, engine_peak_kb, engine_rss_kb, rss_start, policy_heap_kb);
                } else {
                    fprintf(out, ",\"build_ms\":%.1f", x == FLOOR ? floor_build_ms : scan_build_ms);
                }
                fputs(",\"loadavg\":", out);
                json_string(out, loadavg);
                fputs("}\n", out);
            }
        }
    }
    if (out != stdout) fclose(out);

    /* 7. the table */
    printf("\nN=%ld TrafficTargets, %zu rules, %zu requests; engine compile %.1f ms, peak RSS %ld KB after "
           "compile (%ld KB at the end), policy heap %ld KB\n",
           targets, rules.count, requests.count, compile_ms, engine_peak_kb, final_peak_kb, policy_heap_kb);
    printf("%-13s %-7s %-6s %9s %12s %12s %10s %16s\n", "class", "who", "set", "requests", "median", "p99",
           "x floor", "mismatches");
    for (int c = 0; c < CLASS_COUNT; c++) {
        for (int pass = 0; pass < 2; pass++) {
            for (int x = 0; x < CONTENDER_COUNT; x++) {
                const result *r = pass == 0 ? &results[x][c] : &hot[x][c];
                const result *f = pass == 0 ? &results[FLOOR][c] : &hot[FLOOR][c];
                if (!r->measured) continue;
                char median[32], p99[32], ratio[32] = "";
                format_ns(median, sizeof median, r->median_ns);
                format_ns(p99, sizeof p99, r->p99_ns);
                if (f->measured && f->median_ns > 0) snprintf(ratio, sizeof ratio, "%.2fx", r->median_ns / f->median_ns);
                char checked[48];
                snprintf(checked, sizeof checked, "%zu/%zu", r->mismatches, r->compared);
                printf("%-13s %-7s %-6s %9zu %12s %12s %10s %16s\n", class_names[c], contender_names[x],
                       pass == 0 ? "all" : hot_name, r->requests, median, p99, ratio, checked);
            }
        }
    }
    if (engine_mismatches) printf("ENGINE MISMATCHES: %zu\n", engine_mismatches);
    fflush(stdout);

    smi_scratch_free(b.scratch);
    smi_policy_release(b.policy);
    return engine_mismatches ? 1 : 0;
}
