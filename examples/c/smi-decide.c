/*
 * smi-decide: answers SMI access and split requests with libsmiengine.
 *
 *     smi-decide POLICY_PATH... < requests.jsonl
 *
 * It compiles the policy files or folders, then reads one JSON request per line on standard input
 * and prints one JSON answer per line, in the format of `smi eval` (docs/CLI.md):
 *
 *     {"type":"access","source":"default/prometheus","destination":"default/api","port":8080,
 *      "protocol":"http","method":"GET","path":"/metrics","headers":{"accept":"text/plain"}}
 *     -> {"allowed":true,"trafficTarget":"default/api-metrics","rule":"HTTPRouteGroup",
 *         "match":"metrics","path":"/metrics"}
 *     {"type":"split","service":"default/web","entropy":9120937421100093465}
 *     -> {"backend":"default/web-v1","trafficSplit":"default/web-canary"}
 *
 * A line that is not a valid request is answered {"error":"..."}. If the policy does not compile,
 * every diagnostic goes to standard error and the exit status is 1.
 *
 * The shape to copy into a proxy: one policy, one scratch per thread, and an smi_identity per
 * connection so that the request path hashes no identity string. Here the "connections" are the
 * distinct identity strings, kept in a small cache.
 */
#define _POSIX_C_SOURCE 200809L
#include <smi_engine.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define MAX_LINE_BYTES (16u << 20)

/* ---- identity cache: one smi_identity per distinct identity string ---------------------------- */

#define CACHE_SLOTS 64

typedef struct cache_entry {
    char *name; /* owned copy of the identity string, NULL when the slot is empty */
    size_t length;
    smi_identity identity; /* resolved once, when the entry is made */
} cache_entry;

typedef struct identity_cache {
    cache_entry slots[CACHE_SLOTS];
} identity_cache;

/* The slot for `name`, resolved against `policy`. A name that hashes to a used slot replaces it:
 * the cache stays small whatever the input. Returns NULL only when out of memory. */
static cache_entry *cache_lookup(identity_cache *cache, const smi_policy *policy, smi_string name) {
    uint64_t hash = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < name.length; i++) hash = (hash ^ (unsigned char)name.data[i]) * 1099511628211u;
    cache_entry *entry = &cache->slots[hash % CACHE_SLOTS];
    if (entry->name != NULL && entry->length == name.length && memcmp(entry->name, name.data, name.length) == 0) {
        return entry;
    }
    char *copy = malloc(name.length + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, name.data, name.length);
    free(entry->name);
    entry->name = copy;
    entry->length = name.length;
    /* Resolving can only fail on bad arguments; a zeroed identity then makes the decision
     * resolve the name itself and report the problem. */
    memset(&entry->identity, 0, sizeof entry->identity);
    smi_identity_resolve(&entry->identity, policy, name);
    return entry;
}

static void cache_free(identity_cache *cache) {
    for (size_t i = 0; i < CACHE_SLOTS; i++) free(cache->slots[i].name);
}

/* ---- output ----------------------------------------------------------------------------------- */

/* Writes `s` as a JSON string: quotes, backslashes and control characters escaped. */
static void put_string(FILE *out, const char *s, size_t length) {
    putc('"', out);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (c < 0x20) {
                fprintf(out, "\\u%04x", c);
            } else {
                putc(c, out);
            }
        }
    }
    putc('"', out);
}

/* Writes `,"key":"value"` when value is set. */
static void put_field(FILE *out, const char *key, smi_string value) {
    if (value.data == NULL) return;
    fprintf(out, ",\"%s\":", key);
    put_string(out, value.data, value.length);
}

static void put_error(FILE *out, size_t line_number, const char *message) {
    char text[512];
    snprintf(text, sizeof text, "line %zu: %s", line_number, message);
    fputs("{\"error\":", out);
    put_string(out, text, strlen(text));
    fputs("}\n", out);
}

/* ---- requests --------------------------------------------------------------------------------- */

typedef struct context {
    const smi_policy *policy;
    smi_scratch *scratch;
    identity_cache sources;
    identity_cache destinations;
    json_document json;
    smi_header *headers; /* grows to the largest header count seen */
    size_t header_capacity;
    char message[256];   /* the reason a line is refused */
} context;

static smi_string text_of(const json_value *v) {
    smi_string s = {v->text, v->length};
    return s;
}

/* Reads optional string `key` into *out; -1 (with a message) when it is there but not a string. */
static int optional_string(context *c, const json_value *object, const char *key, smi_string *out, int *present) {
    const json_value *v = json_member(&c->json, object, key);
    *present = v != NULL;
    if (v == NULL) return 0;
    if (v->type != JSON_STRING) {
        snprintf(c->message, sizeof c->message, "`%s` must be a string, not %s", key, json_type_name(v));
        return -1;
    }
    *out = text_of(v);
    return 0;
}

static int required_string(context *c, const json_value *object, const char *key, smi_string *out) {
    int present;
    if (optional_string(c, object, key, out, &present) != 0) return -1;
    if (!present) {
        snprintf(c->message, sizeof c->message, "`%s` is missing", key);
        return -1;
    }
    return 0;
}

/* A port: a JSON integer from 0 to 65535 (80, never 80.0 or "80"). */
static int optional_port(context *c, const json_value *object, uint32_t *out, int *present) {
    const json_value *v = json_member(&c->json, object, "port");
    int64_t port;
    *present = v != NULL;
    if (v == NULL) return 0;
    if (json_int64(v, &port) != 0 || port < 0 || port > 65535) {
        snprintf(c->message, sizeof c->message, "`port` must be an integer from 0 to 65535, not %s",
                 json_type_name(v));
        return -1;
    }
    *out = (uint32_t)port;
    return 0;
}

/* `headers`: an object of strings. The engine folds names that differ only in case. */
static int read_headers(context *c, const json_value *object, const smi_header **out, size_t *count) {
    const json_value *h = json_member(&c->json, object, "headers");
    *out = NULL;
    *count = 0;
    if (h == NULL) return 0;
    if (h->type != JSON_OBJECT) {
        snprintf(c->message, sizeof c->message, "`headers` must be an object of strings, not %s", json_type_name(h));
        return -1;
    }
    size_t n = 0;
    for (const json_value *v = json_first(&c->json, h); v != NULL; v = json_next(&c->json, v)) {
        if (v->type != JSON_STRING) {
            snprintf(c->message, sizeof c->message, "header `%.*s` must be a string, not %s",
                     (int)(v->key_length < 100 ? v->key_length : 100), v->key, json_type_name(v));
            return -1;
        }
        if (n == c->header_capacity) {
            size_t capacity = c->header_capacity ? c->header_capacity * 2 : 16;
            smi_header *grown = realloc(c->headers, capacity * sizeof *grown);
            if (grown == NULL) {
                snprintf(c->message, sizeof c->message, "out of memory");
                return -1;
            }
            c->headers = grown;
            c->header_capacity = capacity;
        }
        c->headers[n].name.data = v->key;
        c->headers[n].name.length = v->key_length;
        c->headers[n].value = text_of(v);
        n++;
    }
    *out = c->headers;
    *count = n;
    return 0;
}

static int answer_access(context *c, const json_value *r, FILE *out) {
    smi_access_request request = {0};
    request.size = sizeof request;
    smi_string protocol;
    int has_port, has_method, has_path;
    if (required_string(c, r, "source", &request.source_name) != 0) return -1;
    if (required_string(c, r, "destination", &request.destination_name) != 0) return -1;
    if (optional_port(c, r, &request.port, &has_port) != 0) return -1;
    if (!has_port) {
        snprintf(c->message, sizeof c->message, "`port` is missing");
        return -1;
    }
    if (required_string(c, r, "protocol", &protocol) != 0) return -1;
    if (protocol.length == 4 && memcmp(protocol.data, "http", 4) == 0) {
        request.protocol = SMI_PROTOCOL_HTTP;
    } else if (protocol.length == 3 && memcmp(protocol.data, "tcp", 3) == 0) {
        request.protocol = SMI_PROTOCOL_TCP;
    } else if (protocol.length == 3 && memcmp(protocol.data, "udp", 3) == 0) {
        request.protocol = SMI_PROTOCOL_UDP;
    } else {
        snprintf(c->message, sizeof c->message, "`protocol` must be `http`, `tcp` or `udp`");
        return -1;
    }
    if (optional_string(c, r, "method", &request.method, &has_method) != 0) return -1;
    if (optional_string(c, r, "path", &request.target, &has_path) != 0) return -1;
    if (request.protocol == SMI_PROTOCOL_HTTP && !(has_method && has_path)) {
        snprintf(c->message, sizeof c->message, "`%s` is missing (an http request needs it)",
                 has_method ? "path" : "method");
        return -1;
    }
    if (read_headers(c, r, &request.headers, &request.header_count) != 0) return -1;

    /* The per-connection pattern: the resolved identities come from the caches, and the names
     * stay in the request so that a cache resolved by an older policy is re-resolved. */
    cache_entry *source = cache_lookup(&c->sources, c->policy, request.source_name);
    cache_entry *destination = cache_lookup(&c->destinations, c->policy, request.destination_name);
    if (source == NULL || destination == NULL) {
        snprintf(c->message, sizeof c->message, "out of memory");
        return -1;
    }
    request.source = &source->identity;
    request.destination = &destination->identity;

    smi_access_decision decision = {0};
    decision.size = sizeof decision;
    smi_status status = smi_policy_decide_access(&decision, c->policy, c->scratch, &request);
    if (status != SMI_OK) {
        snprintf(c->message, sizeof c->message, "%s", smi_status_string(status));
        return -1;
    }
    fprintf(out, "{\"allowed\":%s", decision.allowed ? "true" : "false");
    if (decision.allowed) {
        put_field(out, "trafficTarget", decision.traffic_target);
        put_field(out, "rule", decision.rule_kind);
        put_field(out, "match", decision.match);
    } else {
        fprintf(out, ",\"reason\":\"%s\"", smi_reason_string(decision.reason));
    }
    put_field(out, "path", decision.normalized_path);
    fputs("}\n", out);
    return 0;
}

static int answer_split(context *c, const json_value *r, FILE *out) {
    smi_split_request request = {0};
    request.size = sizeof request;
    int present;
    if (required_string(c, r, "service", &request.service) != 0) return -1;
    const json_value *entropy = json_member(&c->json, r, "entropy");
    if (entropy == NULL) {
        snprintf(c->message, sizeof c->message, "`entropy` is missing");
        return -1;
    }
    if (json_uint64(entropy, &request.entropy) != 0) {
        snprintf(c->message, sizeof c->message, "`entropy` must be an integer from 0 to 2^64-1, not %s",
                 json_type_name(entropy));
        return -1;
    }
    if (optional_string(c, r, "method", &request.method, &present) != 0) return -1;
    if (present) request.flags |= SMI_SPLIT_HAS_METHOD;
    if (optional_string(c, r, "path", &request.target, &present) != 0) return -1;
    if (present) request.flags |= SMI_SPLIT_HAS_TARGET;
    if (read_headers(c, r, &request.headers, &request.header_count) != 0) return -1;
    if (optional_port(c, r, &request.port, &present) != 0) return -1;
    if (present) request.flags |= SMI_SPLIT_HAS_PORT;

    smi_split_decision decision = {0};
    decision.size = sizeof decision;
    smi_status status = smi_policy_select_backend(&decision, c->policy, c->scratch, &request);
    if (status != SMI_OK) {
        snprintf(c->message, sizeof c->message, "%s", smi_status_string(status));
        return -1;
    }
    fputs("{\"backend\":", out);
    put_string(out, decision.backend.data, decision.backend.length);
    put_field(out, "trafficSplit", decision.traffic_split);
    fputs("}\n", out);
    return 0;
}

/* Answers one non-blank line; -1 with c->message when the line is refused. */
static int answer(context *c, char *line, size_t length, FILE *out) {
    int status = json_parse(&c->json, line, length, c->message, sizeof c->message);
    if (status != 0) return -1;
    const json_value *r = json_root(&c->json);
    if (r->type != JSON_OBJECT) {
        snprintf(c->message, sizeof c->message, "a request must be a JSON object, not %s", json_type_name(r));
        return -1;
    }
    smi_string type;
    if (required_string(c, r, "type", &type) != 0) return -1;
    if (type.length == 6 && memcmp(type.data, "access", 6) == 0) return answer_access(c, r, out);
    if (type.length == 5 && memcmp(type.data, "split", 5) == 0) return answer_split(c, r, out);
    snprintf(c->message, sizeof c->message, "unknown request type: use `access` or `split`");
    return -1;
}

static int is_blank(const char *line, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n') return 0;
    }
    return 1;
}

/* ---- main ------------------------------------------------------------------------------------- */

/* Compiles the policy at `paths`, printing every diagnostic; NULL when it does not compile. */
static smi_policy *compile(char **paths, size_t count) {
    smi_string *names = calloc(count, sizeof *names);
    if (names == NULL) return NULL;
    for (size_t i = 0; i < count; i++) {
        names[i].data = paths[i];
        names[i].length = strlen(paths[i]);
    }
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;
    smi_status status = smi_policy_compile_paths(&policy, &diagnostics, names, count, NULL);
    free(names);
    for (size_t i = 0; i < smi_diagnostics_count(diagnostics); i++) {
        smi_diagnostic d = {0};
        d.size = sizeof d;
        if (smi_diagnostics_get(diagnostics, i, &d) == SMI_OK) {
            fprintf(stderr, "%.*s\n", (int)d.text.length, d.text.data);
        }
    }
    smi_diagnostics_free(diagnostics);
    if (status != SMI_OK && status != SMI_ERROR_COMPILE) {
        fprintf(stderr, "smi-decide: %s\n", smi_status_string(status));
    }
    return policy;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY_PATH... < requests.jsonl\n", argv[0]);
        return 64;
    }
    if (smi_abi_version() != SMI_ABI_VERSION) {
        fprintf(stderr, "smi-decide: built for ABI %d, the library has ABI %u\n", SMI_ABI_VERSION,
                (unsigned)smi_abi_version());
        return 1;
    }
    smi_policy *policy = compile(argv + 1, (size_t)argc - 1);
    if (policy == NULL) return 1;

    context c;
    memset(&c, 0, sizeof c);
    json_document empty = JSON_DOCUMENT_INIT;
    c.json = empty;
    c.policy = policy;
    if (smi_scratch_create(&c.scratch) != SMI_OK) {
        fprintf(stderr, "smi-decide: cannot create a scratch\n");
        smi_policy_release(policy);
        return 1;
    }

    /* Line-buffered: each answer is out before the next request is read, so a process can
     * drive smi-decide through a pipe one request at a time. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t read;
    size_t line_number = 0;
    while ((read = getline(&line, &capacity, stdin)) >= 0) {
        size_t length = (size_t)read;
        line_number++;
        if (length > 0 && line[length - 1] == '\n') length--;
        if (is_blank(line, length)) continue;
        if (length > MAX_LINE_BYTES) {
            put_error(stdout, line_number, "longer than the limit of 16777216 bytes");
        } else if (answer(&c, line, length, stdout) != 0) {
            put_error(stdout, line_number, c.message);
        }
    }

    free(line);
    free(c.headers);
    json_document_free(&c.json);
    cache_free(&c.sources);
    cache_free(&c.destinations);
    smi_scratch_free(c.scratch);
    smi_policy_release(policy);
    return ferror(stdout) ? 1 : 0;
}
