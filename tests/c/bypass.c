/*
 * bypass.c: public path-handling authorization bypasses through the C ABI, table-driven. A policy
 * opens only /public/.* (GET) to default/web, and /debug only with "x-debug: abc"; every disguise
 * of /admin must be denied: SMI_REASON_PATH_REJECTED where SEMANTICS.md section 5 rejects the
 * path, else SMI_REASON_NO_ROUTE_MATCHED with the normalized path given. The C ABI takes raw
 * bytes, so this also covers what a Swift String cannot carry: raw invalid UTF-8, raw overlong
 * encodings and NUL inside the target.
 *
 * Sources: Envoy CVE-2019-9901 (dot segments), Envoy CVE-2021-29492 and Istio
 * ISTIO-SECURITY-2021-005 (escaped slashes %2F/%5C), Istio CVE-2021-31920 (multiple slashes).
 */
#include <smi_engine.h>

#include <stdio.h>
#include <string.h>

static int checks, failures;

#define S(literal) ((smi_string){literal, sizeof literal - 1})

static const char policy_yaml[] =
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: HTTPRouteGroup\n"
    "metadata: {name: routes, namespace: default}\n"
    "spec:\n"
    "  matches:\n"
    "  - {name: public, pathRegex: /public/.*, methods: [GET]}\n"
    "  - {name: debug, pathRegex: /debug$, headers: {x-debug: abc}}\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata: {name: web-to-api, namespace: default}\n"
    "spec:\n"
    "  destination: {kind: ServiceAccount, name: api}\n"
    "  sources: [{kind: ServiceAccount, name: web}]\n"
    "  rules: [{kind: HTTPRouteGroup, name: routes}]\n";

enum outcome { REJECTED, DENIED, ALLOWED };

struct path_case {
    const char *source; /* where the disguise comes from */
    smi_string target;  /* raw bytes; may hold NUL */
    enum outcome outcome;
    const char *normalized; /* for DENIED and ALLOWED */
};

static const struct path_case path_cases[] = {
    {"control", S("/public/x"), ALLOWED, "/public/x"},
    {"control", S("/admin"), DENIED, "/admin"},
    {"CVE-2019-9901", S("/public/../admin"), DENIED, "/admin"},
    {"CVE-2019-9901", S("/%2e%2e/admin"), DENIED, "/admin"},
    {"CVE-2019-9901", S("/public/%2e%2E/admin"), DENIED, "/admin"},
    {"CVE-2019-9901", S("/public/.%2e/admin"), DENIED, "/admin"},
    {"CVE-2021-29492", S("/public/..%2Fadmin"), REJECTED, NULL},
    {"CVE-2021-29492", S("/public/..%2fadmin"), REJECTED, NULL},
    {"CVE-2021-29492", S("/public/..%5Cadmin"), REJECTED, NULL},
    {"CVE-2021-29492", S("/public/..%5cadmin"), REJECTED, NULL},
    {"CVE-2021-29492", S("/public/%2f%2F/admin"), REJECTED, NULL},
    {"CVE-2021-31920", S("//admin"), DENIED, "/admin"},
    {"CVE-2021-31920", S("/public//../admin"), DENIED, "/admin"},
    {"CVE-2021-31920", S("/public/..//admin"), DENIED, "/admin"},
    {"backslash", S("/public/..\\admin"), REJECTED, NULL},
    {"NUL escaped", S("/public/%00/../../admin"), REJECTED, NULL},
    {"NUL raw", S("/public/\0/../../admin"), REJECTED, NULL},
    {"NUL raw at the end", S("/admin\0"), REJECTED, NULL},
    {"overlong escaped", S("/%c0%afadmin"), DENIED, "/%c0%afadmin"},
    {"overlong escaped", S("/%e0%80%afadmin"), DENIED, "/%e0%80%afadmin"},
    {"overlong raw", S("/public/..\xc0\xaf" "admin"), REJECTED, NULL},
    {"overlong raw", S("/public/..\xe0\x80\xaf" "admin"), REJECTED, NULL},
    {"invalid UTF-8 raw", S("/public/\xff/../../admin"), REJECTED, NULL},
    {"surrogate raw", S("/public/\xed\xa0\x80"), REJECTED, NULL},
    {"query", S("/admin?/public/x"), DENIED, "/admin"},
    {"fragment", S("/admin#/public/x"), DENIED, "/admin"},
    {"path params", S("/admin;/public/x"), DENIED, "/admin;/public/x"},
    {"bad escape", S("/public/%zz/../../admin"), REJECTED, NULL},
    {"control", S("/public/\r\n/../../admin"), REJECTED, NULL},
    {"relative", S("admin"), REJECTED, NULL},
    {"empty", S(""), REJECTED, NULL},
};

struct header_case {
    const char *what;
    smi_header headers[2];
    size_t count;
    int allowed;
};

static const struct header_case header_cases[] = {
    {"plain", {{S("x-debug"), S("abc")}}, 1, 1},
    {"odd case name", {{S("X-DEBUG"), S("abc")}}, 1, 1},
    {"CR/LF in the value", {{S("x-debug"), S("abc\r\nx-debug: abc")}}, 1, 0},
    {"NUL in the value", {{S("x-debug"), S("abc\0")}}, 1, 0},
    {"NUL in the name", {{S("x-debug\0"), S("abc")}}, 1, 0},
    {"repeated name, joined", {{S("x-debug"), S("abc")}, {S("x-debug"), S("abc")}}, 2, 0},
    {"repeated name, odd case", {{S("x-debug"), S("zzz")}, {S("X-Debug"), S("abc")}}, 2, 0},
    {"padded name", {{S("x-debug "), S("abc")}}, 1, 0},
    {"missing", {{S("accept"), S("*/*")}}, 1, 0},
};

static int equals(smi_string s, const char *text) {
    return text != NULL && s.data != NULL && s.length == strlen(text) && memcmp(s.data, text, s.length) == 0;
}

static void fail(const char *what, const char *source, smi_string target, const char *detail) {
    failures++;
    fprintf(stderr, "FAIL %s (%s): \"", what, source);
    for (size_t i = 0; i < target.length; i++) {
        unsigned char c = (unsigned char)target.data[i];
        if (c >= 0x20 && c < 0x7f) fputc(c, stderr); else fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\": %s\n", detail);
}

int main(void) {
    smi_source source = {S("bypass.yaml"), {policy_yaml, sizeof policy_yaml - 1}};
    smi_policy *policy = NULL;
    smi_scratch *scratch = NULL;
    if (smi_policy_compile(&policy, NULL, &source, 1, NULL) != SMI_OK || smi_scratch_create(&scratch) != SMI_OK) {
        fprintf(stderr, "bypass: the policy did not compile\n");
        return 1;
    }
    smi_access_request r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.protocol = SMI_PROTOCOL_HTTP;
    r.port = 80;
    r.source_name = S("default/web");
    r.destination_name = S("default/api");
    r.method = S("GET");

    for (size_t i = 0; i < sizeof path_cases / sizeof path_cases[0]; i++) {
        const struct path_case *c = &path_cases[i];
        smi_access_decision d;
        memset(&d, 0, sizeof d);
        d.size = sizeof d;
        r.target = c->target;
        checks++;
        smi_status status = smi_policy_decide_access(&d, policy, scratch, &r);
        if (status != SMI_OK) {
            fail("status", c->source, c->target, smi_status_string(status));
            continue;
        }
        switch (c->outcome) {
        case REJECTED:
            if (d.allowed || d.reason != SMI_REASON_PATH_REJECTED || d.normalized_path.length != 0)
                fail("expected path-rejected", c->source, c->target, smi_reason_string(d.reason));
            break;
        case DENIED:
            if (d.allowed || d.reason != SMI_REASON_NO_ROUTE_MATCHED || !equals(d.normalized_path, c->normalized))
                fail("expected no-route-matched", c->source, c->target, smi_reason_string(d.reason));
            break;
        case ALLOWED:
            if (!d.allowed || !equals(d.match, "public") || !equals(d.normalized_path, c->normalized))
                fail("expected allowed", c->source, c->target, smi_reason_string(d.reason));
            break;
        }
    }

    r.method = S("POST");
    r.target = S("/debug");
    for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
        const struct header_case *c = &header_cases[i];
        smi_access_decision d;
        memset(&d, 0, sizeof d);
        d.size = sizeof d;
        r.headers = c->headers;
        r.header_count = c->count;
        checks++;
        smi_status status = smi_policy_decide_access(&d, policy, scratch, &r);
        if (status != SMI_OK || d.allowed != c->allowed || (!c->allowed && d.reason != SMI_REASON_NO_ROUTE_MATCHED))
            fail("header", c->what, r.target, smi_reason_string(d.reason));
    }

    smi_scratch_free(scratch);
    smi_policy_release(policy);
    printf("bypass: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
