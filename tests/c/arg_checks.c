/*
 * arg_checks.c: every entry point of smi_engine.h called with bad arguments (NULLs, zero and
 * too-small size fields, handles of the wrong kind, bad protocols and ports, too many headers,
 * NULL data with a length, broken YAML, unreadable paths, indexes out of range, truncated and
 * corrupted policy bundles), asserting the
 * documented status and never a crash; plus valid round trips and freeing NULL.
 *
 * The model is Hyperscan's unit/hyperscan/arg_checks.cpp. Run it plainly, under valgrind and
 * built with -fsanitize=address (scripts/test-c.sh does all three).
 */
#define _POSIX_C_SOURCE 200809L
#include <smi_engine.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int checks, failures;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                  \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                       \
    do {                                                                                   \
        smi_status got_ = (expr);                                                          \
        checks++;                                                                          \
        if (got_ != (expected)) {                                                          \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: FAIL: %s returned %d (%s), expected %s\n", __FILE__,   \
                    __LINE__, #expr, (int)got_, smi_status_string(got_), #expected);       \
        }                                                                                  \
    } while (0)

#define S(literal) ((smi_string){literal, sizeof literal - 1})

static int equals(smi_string s, const char *text) {
    return s.data != NULL && s.length == strlen(text) && memcmp(s.data, text, s.length) == 0;
}

static int is_null_string(smi_string s) { return s.data == NULL && s.length == 0; }

static int contains(smi_string s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; s.data != NULL && i + n <= s.length; i++) {
        if (memcmp(s.data + i, needle, n) == 0) return 1;
    }
    return 0;
}

/* A policy using every decision feature: an L7 grant with a header condition, an L4 grant, a split. */
static const char policy_yaml[] =
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: HTTPRouteGroup\n"
    "metadata:\n"
    "  name: routes\n"
    "  namespace: shop\n"
    "spec:\n"
    "  matches:\n"
    "  - name: read\n"
    "    pathRegex: /orders/[0-9]+\n"
    "    methods: [GET]\n"
    "  - name: agent\n"
    "    pathRegex: /agent\n"
    "    methods: [GET]\n"
    "    headers:\n"
    "      user-agent: \"^curl/.*\"\n"
    "---\n"
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: TCPRoute\n"
    "metadata:\n"
    "  name: db-port\n"
    "  namespace: shop\n"
    "spec:\n"
    "  matches:\n"
    "    ports: [5432]\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata:\n"
    "  name: frontend-to-orders\n"
    "  namespace: shop\n"
    "spec:\n"
    "  destination:\n"
    "    kind: ServiceAccount\n"
    "    name: orders\n"
    "  rules:\n"
    "  - kind: HTTPRouteGroup\n"
    "    name: routes\n"
    "  sources:\n"
    "  - kind: ServiceAccount\n"
    "    name: frontend\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata:\n"
    "  name: orders-to-db\n"
    "  namespace: shop\n"
    "spec:\n"
    "  destination:\n"
    "    kind: ServiceAccount\n"
    "    name: postgres\n"
    "  rules:\n"
    "  - kind: TCPRoute\n"
    "    name: db-port\n"
    "  sources:\n"
    "  - kind: ServiceAccount\n"
    "    name: orders\n"
    "---\n"
    "apiVersion: split.smi-spec.io/v1alpha2\n"
    "kind: TrafficSplit\n"
    "metadata:\n"
    "  name: web-rollout\n"
    "  namespace: shop\n"
    "spec:\n"
    "  service: web\n"
    "  backends:\n"
    "  - service: web-v1\n"
    "    weight: 1\n"
    "  - service: web-v2\n"
    "    weight: 1\n";

/* The same access rule in another policy, for stale identity caches. */
static const char other_yaml[] =
    "{\"apiVersion\": \"access.smi-spec.io/v1alpha3\", \"kind\": \"TrafficTarget\",\n"
    " \"metadata\": {\"name\": \"db\", \"namespace\": \"shop\"},\n"
    " \"spec\": {\"destination\": {\"kind\": \"ServiceAccount\", \"name\": \"postgres\"},\n"
    "          \"rules\": [{\"kind\": \"TCPRoute\", \"name\": \"db-port\"}],\n"
    "          \"sources\": [{\"kind\": \"ServiceAccount\", \"name\": \"orders\"}]}}\n"
    "---\n"
    "{\"apiVersion\": \"specs.smi-spec.io/v1alpha4\", \"kind\": \"TCPRoute\",\n"
    " \"metadata\": {\"name\": \"db-port\", \"namespace\": \"shop\"}, \"spec\": {\"matches\": {\"ports\": [5432]}}}\n";

static smi_policy *compile_text(const char *name, const char *text, size_t length) {
    smi_source source = {{name, strlen(name)}, {text, length}};
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;
    smi_status status = smi_policy_compile(&policy, &diagnostics, &source, 1, NULL);
    if (status != SMI_OK) {
        smi_diagnostic d = {0};
        d.size = sizeof d;
        for (size_t i = 0; i < smi_diagnostics_count(diagnostics); i++) {
            if (smi_diagnostics_get(diagnostics, i, &d) == SMI_OK) {
                fprintf(stderr, "%.*s\n", (int)d.text.length, d.text.data);
            }
        }
    }
    smi_diagnostics_free(diagnostics);
    return policy;
}

/* A valid access request from shop/frontend to shop/orders: GET /orders/42 on port 8080. */
static smi_access_request good_access(void) {
    smi_access_request r = {0};
    r.size = sizeof r;
    r.protocol = SMI_PROTOCOL_HTTP;
    r.port = 8080;
    r.source_name = S("shop/frontend");
    r.destination_name = S("shop/orders");
    r.method = S("GET");
    r.target = S("/orders/42");
    return r;
}

static smi_split_request good_split(void) {
    smi_split_request r = {0};
    r.size = sizeof r;
    r.entropy = 12345;
    r.service = S("shop/web");
    return r;
}

static smi_access_decision fresh_decision(void) {
    smi_access_decision d;
    memset(&d, 0xAB, sizeof d); /* garbage, so that "filled" is visible */
    d.size = sizeof d;
    d.allowed = 1;
    return d;
}

static smi_split_decision fresh_split_decision(void) {
    smi_split_decision d;
    memset(&d, 0xAB, sizeof d);
    d.size = sizeof d;
    return d;
}

/* ---- versions and names ---------------------------------------------------------------------- */

static void test_versions_and_strings(void) {
    CHECK(smi_version() == SMI_VERSION_NUMBER);
    CHECK(smi_abi_version() == SMI_ABI_VERSION);

    const smi_status known[] = {SMI_OK,
                                SMI_ERROR_INVALID_ARGUMENT,
                                SMI_ERROR_NO_MEMORY,
                                SMI_ERROR_COMPILE,
                                SMI_ERROR_WRONG_HANDLE,
                                SMI_ERROR_STALE_IDENTITY,
                                SMI_ERROR_OUT_OF_RANGE,
                                SMI_ERROR_NO_POLICY,
                                SMI_ERROR_LIMIT,
                                SMI_ERROR_INTERNAL};
    size_t n = sizeof known / sizeof known[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = smi_status_string(known[i]);
        CHECK(s != NULL && s[0] != '\0');
        for (size_t j = 0; j < i; j++) CHECK(s != NULL && strcmp(s, smi_status_string(known[j])) != 0);
    }
    const smi_status unknown[] = {1, 42, -10, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = smi_status_string(unknown[i]);
        CHECK(s != NULL && s[0] != '\0');
    }
    /* Released numbers never change. */
    CHECK(SMI_OK == 0 && SMI_ERROR_INVALID_ARGUMENT == -1 && SMI_ERROR_INTERNAL == -9);

    const char *reasons[] = {"none", "path-rejected", "no-traffic-target", "source-not-allowed",
                             "port-not-allowed", "no-route-matched", "regex-budget-exceeded",
                             "request-too-large"};
    for (int32_t i = 0; i < 8; i++) CHECK(strcmp(smi_reason_string(i), reasons[i]) == 0);
    CHECK(SMI_REASON_REQUEST_TOO_LARGE == 7);
    CHECK(strcmp(smi_reason_string(-1), "unknown") == 0);
    CHECK(strcmp(smi_reason_string(8), "unknown") == 0);
    CHECK(strcmp(smi_reason_string(INT32_MIN), "unknown") == 0);
    CHECK(strcmp(smi_reason_string(INT32_MAX), "unknown") == 0);
}

/* ---- compiling ------------------------------------------------------------------------------- */

static void test_compile(void) {
    smi_source source = {S("policy.yaml"), {policy_yaml, sizeof policy_yaml - 1}};
    smi_policy *policy = (smi_policy *)&source; /* a sentinel: must become NULL on failure */
    smi_diagnostics *diagnostics = NULL;

    CHECK_STATUS(smi_policy_compile(NULL, NULL, &source, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_compile(&policy, NULL, NULL, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);

    /* count 0: an empty policy that denies everything */
    CHECK_STATUS(smi_policy_compile(&policy, NULL, NULL, 0, NULL), SMI_OK);
    CHECK(policy != NULL);
    if (policy != NULL) {
        smi_scratch *scratch = NULL;
        CHECK_STATUS(smi_scratch_create(&scratch), SMI_OK);
        smi_access_request r = good_access();
        smi_access_decision d = fresh_decision();
        CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
        CHECK(d.allowed == 0 && d.reason == SMI_REASON_NO_TRAFFIC_TARGET);
        smi_scratch_free(scratch);
    }
    smi_policy_release(policy);

    /* NULL data with a non-zero length */
    smi_source bad = {{NULL, 4}, {policy_yaml, sizeof policy_yaml - 1}};
    policy = (smi_policy *)&source;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &bad, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);
    bad.name = S("x.yaml");
    bad.text.data = NULL;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &bad, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    /* {NULL, 0} text: an empty source */
    bad.text.length = 0;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &bad, 1, NULL), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;

    /* options: size 0, too small, reserved set, trust domain NULL with a length */
    smi_compile_options options = SMI_COMPILE_OPTIONS_INIT;
    CHECK(options.size == sizeof options && options.normalization == SMI_NORMALIZE_ALL);
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;
    options.size = 0;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_ERROR_INVALID_ARGUMENT);
    options.size = 4;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_ERROR_INVALID_ARGUMENT);
    /* A 0.1 caller's struct ends after trust_domain: accepted, the later fields take defaults. */
    options.size = offsetof(smi_compile_options, max_headers);
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;
    options.size = offsetof(smi_compile_options, max_headers) - 1;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_ERROR_INVALID_ARGUMENT);
    options.size = sizeof options;
    options.reserved = 1;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_ERROR_INVALID_ARGUMENT);
    options.reserved = 0;
    options.trust_domain.data = NULL;
    options.trust_domain.length = 5;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);
    options.trust_domain = S("cluster.local");
    options.flags = SMI_COMPILE_FULL_PATH_MATCH;
    options.match_limit = 1000;
    options.depth_limit = 100;
    CHECK_STATUS(smi_policy_compile(&policy, NULL, &source, 1, &options), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;

    /* diagnostics are optional, and also filled on success (possibly empty) */
    CHECK_STATUS(smi_policy_compile(&policy, &diagnostics, &source, 1, NULL), SMI_OK);
    CHECK(policy != NULL);
    CHECK(smi_diagnostics_error_count(diagnostics) == 0);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    smi_policy_release(policy);
    policy = NULL;

    /* garbage, NUL bytes, invalid UTF-8 */
    static const char *const garbage[] = {"{{{{ : : ]", "\"unterminated", "- [a, b\n- c: d: e", "\t\tkind: x\n",
                                          "apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nspec: [1,\n"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        smi_source g = {S("garbage.yaml"), {garbage[i], strlen(garbage[i])}};
        policy = (smi_policy *)&source;
        diagnostics = NULL;
        CHECK_STATUS(smi_policy_compile(&policy, &diagnostics, &g, 1, NULL), SMI_ERROR_COMPILE);
        CHECK(policy == NULL);
        CHECK(smi_diagnostics_error_count(diagnostics) >= 1);
        CHECK(smi_diagnostics_count(diagnostics) >= smi_diagnostics_error_count(diagnostics));
        smi_diagnostic d = {0};
        d.size = sizeof d;
        CHECK_STATUS(smi_diagnostics_get(diagnostics, 0, &d), SMI_OK);
        CHECK(d.text.data != NULL && d.text.length > 0);
        CHECK(d.message.data != NULL && d.message.length > 0);
        CHECK(d.code.data != NULL && d.code.length > 0);
        smi_diagnostics_free(diagnostics);
    }
    {
        static const char binary[] = "kind: \0\xff\xfe\x80 TrafficTarget\n\xc3\x28: [\x00]\n";
        smi_source g = {S("binary.yaml"), {binary, sizeof binary - 1}};
        policy = NULL;
        smi_status status = smi_policy_compile(&policy, NULL, &g, 1, NULL);
        CHECK(status == SMI_ERROR_COMPILE || status == SMI_OK);
        CHECK((status == SMI_OK) == (policy != NULL));
        smi_policy_release(policy);
    }

    /* every prefix of a valid policy (every 3rd byte): compiles or fails cleanly, never crashes */
    for (size_t cut = 0; cut < sizeof policy_yaml - 1; cut += 3) {
        smi_source t = {S("truncated.yaml"), {policy_yaml, cut}};
        policy = NULL;
        diagnostics = NULL;
        smi_status status = smi_policy_compile(&policy, &diagnostics, &t, 1, NULL);
        CHECK(status == SMI_OK || status == SMI_ERROR_COMPILE);
        CHECK((status == SMI_OK) == (policy != NULL));
        CHECK((status == SMI_ERROR_COMPILE) == (smi_diagnostics_error_count(diagnostics) > 0));
        smi_diagnostics_free(diagnostics);
        smi_policy_release(policy);
    }

    /* an invalid regex names its file, line and column */
    {
        static const char bad_regex[] = "apiVersion: specs.smi-spec.io/v1alpha4\n"
                                        "kind: HTTPRouteGroup\n"
                                        "metadata: {name: r, namespace: default}\n"
                                        "spec:\n"
                                        "  matches:\n"
                                        "  - name: m\n"
                                        "    pathRegex: \"/api/(\"\n";
        smi_source b = {S("regex.yaml"), {bad_regex, sizeof bad_regex - 1}};
        diagnostics = NULL;
        CHECK_STATUS(smi_policy_compile(&policy, &diagnostics, &b, 1, NULL), SMI_ERROR_COMPILE);
        int found = 0;
        for (size_t i = 0; i < smi_diagnostics_count(diagnostics); i++) {
            smi_diagnostic d = {0};
            d.size = sizeof d;
            CHECK_STATUS(smi_diagnostics_get(diagnostics, i, &d), SMI_OK);
            if (d.severity == SMI_SEVERITY_ERROR && d.line == 7) {
                found = 1;
                CHECK(d.column > 0);
                CHECK(equals(d.file, "regex.yaml"));
                CHECK(contains(d.text, "regex.yaml:7:"));
            }
        }
        CHECK(found);
        smi_diagnostics_free(diagnostics);
    }
}

static void test_compile_paths(void) {
    char dir[] = "/tmp/smi-arg-checks-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char good[256], garbage[256], missing[256], unreadable[256];
    snprintf(good, sizeof good, "%s/good.yaml", dir);
    snprintf(garbage, sizeof garbage, "%s/garbage.yaml", dir);
    snprintf(missing, sizeof missing, "%s/missing.yaml", dir);
    snprintf(unreadable, sizeof unreadable, "%s/unreadable.yaml", dir);
    FILE *f = fopen(good, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fwrite(policy_yaml, 1, sizeof policy_yaml - 1, f);
        fclose(f);
    }
    f = fopen(garbage, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("{{{{ : : ]\n", f);
        fclose(f);
    }
    f = fopen(unreadable, "w");
    if (f != NULL) {
        fwrite(policy_yaml, 1, sizeof policy_yaml - 1, f);
        fclose(f);
        chmod(unreadable, 0);
    }

    smi_string p_good = {good, strlen(good)}, p_dir = {dir, strlen(dir)};
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;

    CHECK_STATUS(smi_policy_compile_paths(NULL, NULL, &p_good, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, NULL, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    smi_string null_path = {NULL, 3};
    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, &null_path, 1, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);
    smi_compile_options options = SMI_COMPILE_OPTIONS_INIT;
    options.size = 0;
    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, &p_good, 1, &options), SMI_ERROR_INVALID_ARGUMENT);

    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, &p_good, 1, NULL), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;
    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, NULL, 0, NULL), SMI_OK);
    smi_policy_release(policy);
    policy = NULL;

    /* a missing path is an error diagnostic */
    smi_string p_missing = {missing, strlen(missing)};
    CHECK_STATUS(smi_policy_compile_paths(&policy, &diagnostics, &p_missing, 1, NULL), SMI_ERROR_COMPILE);
    CHECK(policy == NULL);
    CHECK(smi_diagnostics_error_count(diagnostics) >= 1);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;

    /* a path with a NUL byte inside can name no file */
    static const char nul_path[] = "/tmp\0/x.yaml";
    smi_string p_nul = {nul_path, sizeof nul_path - 1};
    smi_status status = smi_policy_compile_paths(&policy, NULL, &p_nul, 1, NULL);
    CHECK(status == SMI_ERROR_COMPILE || status == SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);

    /* the folder holds garbage.yaml (and, when not root, an unreadable file): an error */
    CHECK_STATUS(smi_policy_compile_paths(&policy, &diagnostics, &p_dir, 1, NULL), SMI_ERROR_COMPILE);
    CHECK(policy == NULL);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;

    /* an unreadable file (root reads everything, so only checked for other users) */
    if (geteuid() != 0) {
        smi_string p_unreadable = {unreadable, strlen(unreadable)};
        CHECK_STATUS(smi_policy_compile_paths(&policy, &diagnostics, &p_unreadable, 1, NULL), SMI_ERROR_COMPILE);
        CHECK(smi_diagnostics_error_count(diagnostics) >= 1);
        smi_diagnostics_free(diagnostics);
        diagnostics = NULL;
    }
    /* a good path next to a missing one: still an error, nothing created */
    smi_string two[2] = {p_good, p_missing};
    CHECK_STATUS(smi_policy_compile_paths(&policy, NULL, two, 2, NULL), SMI_ERROR_COMPILE);
    CHECK(policy == NULL);

    unlink(good);
    unlink(garbage);
    unlink(unreadable);
    rmdir(dir);
}

/* ---- diagnostics ----------------------------------------------------------------------------- */

static void test_diagnostics(smi_policy *policy, smi_scratch *scratch, smi_holder *holder) {
    smi_source g = {S("g.yaml"), S("{{{{ : : ]")};
    smi_policy *none = NULL;
    smi_diagnostics *diagnostics = NULL;
    CHECK_STATUS(smi_policy_compile(&none, &diagnostics, &g, 1, NULL), SMI_ERROR_COMPILE);
    size_t n = smi_diagnostics_count(diagnostics);
    CHECK(n >= 1);

    smi_diagnostic d = {0};
    d.size = sizeof d;
    CHECK(smi_diagnostics_count(NULL) == 0);
    CHECK(smi_diagnostics_error_count(NULL) == 0);
    CHECK_STATUS(smi_diagnostics_get(NULL, 0, &d), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_diagnostics_get(diagnostics, 0, NULL), SMI_ERROR_INVALID_ARGUMENT);
    d.size = 0;
    CHECK_STATUS(smi_diagnostics_get(diagnostics, 0, &d), SMI_ERROR_INVALID_ARGUMENT);
    d.size = 4;
    CHECK_STATUS(smi_diagnostics_get(diagnostics, 0, &d), SMI_ERROR_INVALID_ARGUMENT);
    d.size = sizeof d;
    CHECK_STATUS(smi_diagnostics_get(diagnostics, n, &d), SMI_ERROR_OUT_OF_RANGE);
    CHECK_STATUS(smi_diagnostics_get(diagnostics, (size_t)-1, &d), SMI_ERROR_OUT_OF_RANGE);
    CHECK_STATUS(smi_diagnostics_get(diagnostics, n - 1, &d), SMI_OK);

    /* wrong kinds */
    CHECK_STATUS(smi_diagnostics_get((const smi_diagnostics *)policy, 0, &d), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_diagnostics_get((const smi_diagnostics *)scratch, 0, &d), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_diagnostics_get((const smi_diagnostics *)holder, 0, &d), SMI_ERROR_WRONG_HANDLE);
    CHECK(smi_diagnostics_count((const smi_diagnostics *)policy) == 0);
    CHECK(smi_diagnostics_error_count((const smi_diagnostics *)scratch) == 0);

    /* strings stay valid until the object is freed: read them all again after more calls */
    smi_diagnostic first = {0};
    first.size = sizeof first;
    CHECK_STATUS(smi_diagnostics_get(diagnostics, 0, &first), SMI_OK);
    char copy[1024];
    snprintf(copy, sizeof copy, "%.*s", (int)first.text.length, first.text.data);
    for (size_t i = 0; i < n; i++) CHECK_STATUS(smi_diagnostics_get(diagnostics, i, &d), SMI_OK);
    CHECK(first.text.length == strlen(copy) && memcmp(first.text.data, copy, first.text.length) == 0);
    CHECK(first.severity == SMI_SEVERITY_ERROR || first.severity == SMI_SEVERITY_WARNING ||
          first.severity == SMI_SEVERITY_NOTE);

    smi_diagnostics_free(diagnostics);
    smi_diagnostics_free(NULL);
}

/* ---- scratch, identities --------------------------------------------------------------------- */

static void test_scratch_and_identities(smi_policy *policy, smi_scratch *scratch, smi_holder *holder) {
    CHECK_STATUS(smi_scratch_create(NULL), SMI_ERROR_INVALID_ARGUMENT);
    smi_scratch_free(NULL);

    smi_identity id = {0};
    CHECK_STATUS(smi_identity_resolve(NULL, policy, S("shop/frontend")), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_identity_resolve(&id, NULL, S("shop/frontend")), SMI_ERROR_INVALID_ARGUMENT);
    smi_string null_name = {NULL, 5};
    CHECK_STATUS(smi_identity_resolve(&id, policy, null_name), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_identity_resolve(&id, (const smi_policy *)scratch, S("shop/frontend")), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_identity_resolve(&id, (const smi_policy *)holder, S("shop/frontend")), SMI_ERROR_WRONG_HANDLE);

    smi_identity known = {0}, spiffe = {0}, unknown = {0};
    CHECK_STATUS(smi_identity_resolve(&known, policy, S("shop/frontend")), SMI_OK);
    CHECK(known.policy_tag != 0 && known.index != UINT32_MAX);
    CHECK_STATUS(smi_identity_resolve(&spiffe, policy, S("spiffe://cluster.local/ns/shop/sa/frontend")), SMI_OK);
    CHECK(spiffe.policy_tag == known.policy_tag && spiffe.index == known.index);
    CHECK_STATUS(smi_identity_resolve(&unknown, policy, S("shop/nobody")), SMI_OK);
    CHECK(unknown.policy_tag == known.policy_tag && unknown.index == UINT32_MAX);
    /* odd names resolve to "unknown" or are refused, never crash */
    static const char *const odd[] = {"", "/", "shop/", "/frontend", "spiffe://", "spiffe://td/ns/shop/sa/",
                                      "a/b/c", "\xff\xfe/\x80"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        smi_identity o = {0};
        smi_string name = {odd[i], strlen(odd[i])};
        smi_status status = smi_identity_resolve(&o, policy, name);
        CHECK(status == SMI_OK || status == SMI_ERROR_INVALID_ARGUMENT);
        if (status == SMI_OK) CHECK(o.index == UINT32_MAX);
    }

    /* an unknown identity's requests are denied */
    smi_access_request r = good_access();
    r.source = &unknown;
    smi_access_decision d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0 && d.reason == SMI_REASON_SOURCE_NOT_ALLOWED);
    /* a resolved cache alone (no name) is enough */
    r.source = &known;
    r.source_name.data = NULL;
    r.source_name.length = 0;
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1);
}

/* ---- access decisions ------------------------------------------------------------------------ */

static void expect_access_error(smi_policy *policy, smi_scratch *scratch, const smi_access_request *r,
                                smi_status expected, int line) {
    smi_access_decision d = fresh_decision();
    smi_status got = smi_policy_decide_access(&d, policy, scratch, r);
    checks += 2;
    if (got != expected) {
        failures++;
        fprintf(stderr, "%s:%d: FAIL: decide_access returned %d (%s), expected %d (%s)\n", __FILE__, line, (int)got,
                smi_status_string(got), (int)expected, smi_status_string(expected));
    }
    if (got != SMI_OK && d.allowed != 0) {
        failures++;
        fprintf(stderr, "%s:%d: FAIL: decision not denied after an error\n", __FILE__, line);
    }
}

#define EXPECT_ACCESS(r, expected) expect_access_error(policy, scratch, &(r), expected, __LINE__)

static void test_access(smi_policy *policy, smi_scratch *scratch, smi_holder *holder) {
    smi_access_request r = good_access();
    smi_access_decision d = fresh_decision();

    /* round trip */
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && d.reason == SMI_REASON_NONE && d.grant != UINT32_MAX);
    CHECK(equals(d.traffic_target, "shop/frontend-to-orders"));
    CHECK(equals(d.rule_kind, "HTTPRouteGroup"));
    CHECK(equals(d.match, "read"));
    CHECK(equals(d.normalized_path, "/orders/42"));

    /* NULL pointers */
    CHECK_STATUS(smi_policy_decide_access(NULL, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, NULL, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(d.allowed == 0);
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, NULL, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(d.allowed == 0);
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(d.allowed == 0);

    /* decision size fields */
    d = fresh_decision();
    d.size = 0;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_decision();
    d.size = 8;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);

    /* wrong handle kinds */
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, (const smi_policy *)scratch, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK(d.allowed == 0);
    CHECK_STATUS(smi_policy_decide_access(&d, (const smi_policy *)holder, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_policy_decide_access(&d, policy, (smi_scratch *)policy, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_policy_decide_access(&d, policy, (smi_scratch *)holder, &r), SMI_ERROR_WRONG_HANDLE);

    /* request size and reserved */
    r.size = 0;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r.size = 8;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.reserved = 7;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);

    /* protocols and ports */
    r = good_access();
    r.protocol = 3;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r.protocol = UINT32_MAX;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.port = 65536;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r.port = UINT32_MAX;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r.port = 65535;
    EXPECT_ACCESS(r, SMI_OK);
    r.port = 0;
    EXPECT_ACCESS(r, SMI_OK);

    /* identities: neither cache nor name, NULL data with a length */
    r = good_access();
    r.source_name.data = NULL;
    r.source_name.length = 0;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.destination_name.data = NULL;
    r.destination_name.length = 0;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.source_name.data = NULL;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.destination_name.data = NULL;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);

    /* strings: NULL data with a non-zero length */
    r = good_access();
    r.method.data = NULL;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.target.data = NULL;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);

    /* headers: NULL with a count, NULL name or value data, over the limit, at the limit */
    r = good_access();
    r.header_count = 1;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    smi_header one = {{NULL, 4}, S("x")};
    r.headers = &one;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    one.name = S("x-a");
    one.value.data = NULL;
    one.value.length = 2;
    EXPECT_ACCESS(r, SMI_ERROR_INVALID_ARGUMENT);
    smi_header *many = calloc(SMI_MAX_HEADERS + 1, sizeof *many);
    CHECK(many != NULL);
    if (many != NULL) {
        for (size_t i = 0; i <= SMI_MAX_HEADERS; i++) {
            many[i].name = S("x-filler");
            many[i].value = S("v");
        }
        r.headers = many;
        r.header_count = SMI_MAX_HEADERS + 1;
        EXPECT_ACCESS(r, SMI_ERROR_LIMIT);
        r.header_count = (size_t)-1;
        EXPECT_ACCESS(r, SMI_ERROR_LIMIT);
        r.header_count = SMI_MAX_HEADERS;
        EXPECT_ACCESS(r, SMI_OK);
        free(many);
    }

    /* target length limit */
    char *long_target = malloc(SMI_MAX_TARGET_LENGTH + 2);
    CHECK(long_target != NULL);
    if (long_target != NULL) {
        memset(long_target, 'a', SMI_MAX_TARGET_LENGTH + 1);
        long_target[0] = '/';
        r = good_access();
        r.target.data = long_target;
        r.target.length = SMI_MAX_TARGET_LENGTH + 1;
        EXPECT_ACCESS(r, SMI_ERROR_LIMIT);
        r.target.length = SMI_MAX_TARGET_LENGTH;
        EXPECT_ACCESS(r, SMI_OK);
        free(long_target);
    }

    /* hostile but valid HTTP: never a crash, always a clean answer */
    static const char *const targets[] = {"",
                                          "orders/42",
                                          "/orders/42?x=%zz",
                                          "/%2e%2e/%2e%2e/",
                                          "/a%2Fb",
                                          "/a%00b",
                                          "/\xff\xfe",
                                          "/../../../../../../",
                                          "//////////",
                                          "/orders/42#frag",
                                          "/%",
                                          "/%4"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        r = good_access();
        r.target.data = targets[i];
        r.target.length = strlen(targets[i]);
        d = fresh_decision();
        CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
        CHECK(d.allowed == 0 || d.allowed == 1);
    }
    r = good_access();
    r.target = S("/a%2Fb");
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0 && d.reason == SMI_REASON_PATH_REJECTED && is_null_string(d.normalized_path));
    r.target = S("/orders/../orders//42");
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && equals(d.normalized_path, "/orders/42"));
    r.method.data = NULL;
    r.method.length = 0;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0);

    /* header conditions: names fold case; a value with NUL, CR or LF never matches */
    r = good_access();
    r.target = S("/agent");
    smi_header ua = {S("User-Agent"), S("curl/8.0")};
    r.headers = &ua;
    r.header_count = 1;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && equals(d.match, "agent"));
    static const char with_nul[] = "curl/8\0x";
    ua.value.data = with_nul;
    ua.value.length = sizeof with_nul - 1;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0 && d.reason == SMI_REASON_NO_ROUTE_MATCHED);
    ua.value = S("curl/8\r\nx-evil: 1");
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0);
    r.header_count = 0;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0 && d.reason == SMI_REASON_NO_ROUTE_MATCHED);

    /* L4: TCP grant, no match; UDP denied */
    r = good_access();
    r.protocol = SMI_PROTOCOL_TCP;
    r.port = 5432;
    r.source_name = S("shop/orders");
    r.destination_name = S("shop/postgres");
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && equals(d.traffic_target, "shop/orders-to-db") && equals(d.rule_kind, "TCPRoute"));
    CHECK(is_null_string(d.match) && is_null_string(d.normalized_path));
    r.port = 5433;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0 && d.reason == SMI_REASON_PORT_NOT_ALLOWED && d.grant == UINT32_MAX);
    CHECK(is_null_string(d.traffic_target) && is_null_string(d.match));
    r.protocol = SMI_PROTOCOL_UDP;
    r.port = 5432;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 0);
}

/* ---- identity caches across policies --------------------------------------------------------- */

static void test_stale_identities(smi_policy *policy, smi_scratch *scratch) {
    smi_policy *other = compile_text("other.yaml", other_yaml, sizeof other_yaml - 1);
    CHECK(other != NULL);
    if (other == NULL) return;
    smi_identity source = {0}, destination = {0};
    CHECK_STATUS(smi_identity_resolve(&source, policy, S("shop/orders")), SMI_OK);
    CHECK_STATUS(smi_identity_resolve(&destination, policy, S("shop/postgres")), SMI_OK);
    smi_access_request r = {0};
    r.size = sizeof r;
    r.protocol = SMI_PROTOCOL_TCP;
    r.port = 5432;
    r.source = &source;
    r.destination = &destination;
    smi_access_decision d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1);
    /* resolved by `policy`, decided with `other`, no names: stale */
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, other, scratch, &r), SMI_ERROR_STALE_IDENTITY);
    CHECK(d.allowed == 0);
    /* with the names: re-resolved and written back */
    uint64_t old_tag = source.policy_tag;
    r.source_name = S("shop/orders");
    r.destination_name = S("shop/postgres");
    d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, other, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && equals(d.traffic_target, "shop/db"));
    CHECK(source.policy_tag != old_tag && source.policy_tag != 0 && destination.policy_tag == source.policy_tag);
    /* the cache now belongs to `other`: without names it is stale for `policy` */
    r.source_name.data = NULL;
    r.source_name.length = 0;
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_ERROR_STALE_IDENTITY);
    /* a zeroed ("not resolved yet") cache without a name: stale, or no identity at all */
    smi_identity zero = {0};
    r.source = &zero;
    smi_status status = smi_policy_decide_access(&d, policy, scratch, &r);
    CHECK(status == SMI_ERROR_STALE_IDENTITY || status == SMI_ERROR_INVALID_ARGUMENT);
    smi_policy_release(other);
}

/* ---- split decisions ------------------------------------------------------------------------- */

static void test_split(smi_policy *policy, smi_scratch *scratch, smi_holder *holder) {
    smi_split_request r = good_split();
    smi_split_decision d = fresh_split_decision();

    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_OK);
    CHECK(equals(d.backend, "shop/web-v1") || equals(d.backend, "shop/web-v2"));
    CHECK(equals(d.traffic_split, "shop/web-rollout"));
    /* the same entropy picks the same backend; both backends get picked */
    int v1 = 0, v2 = 0;
    for (uint64_t e = 0; e < 200; e++) {
        r.entropy = e * 0x9E3779B97F4A7C15u;
        smi_split_decision a = fresh_split_decision(), b = fresh_split_decision();
        CHECK_STATUS(smi_policy_select_backend(&a, policy, scratch, &r), SMI_OK);
        CHECK_STATUS(smi_policy_select_backend(&b, policy, scratch, &r), SMI_OK);
        CHECK(a.backend.length == b.backend.length && memcmp(a.backend.data, b.backend.data, a.backend.length) == 0);
        if (equals(a.backend, "shop/web-v1")) v1++;
        if (equals(a.backend, "shop/web-v2")) v2++;
    }
    CHECK(v1 > 50 && v2 > 50 && v1 + v2 == 200);

    /* a service cache: filled by the first decision, then used instead of the name; a request of
     * the size before service_cache (in a buffer of exactly that size, so that an over-read
     * shows under valgrind and ASan) is still accepted */
    {
        smi_identity cache = {0};
        r = good_split();
        r.service_cache = &cache;
        smi_split_decision a = fresh_split_decision(), b = fresh_split_decision(), c = fresh_split_decision();
        CHECK_STATUS(smi_policy_select_backend(&a, policy, scratch, &r), SMI_OK);
        CHECK(cache.policy_tag != 0 && cache.index != UINT32_MAX);
        smi_identity filled = cache;
        CHECK_STATUS(smi_policy_select_backend(&b, policy, scratch, &r), SMI_OK);
        CHECK(cache.policy_tag == filled.policy_tag && cache.index == filled.index);
        CHECK(equals(b.backend, "shop/web-v1") || equals(b.backend, "shop/web-v2"));
        CHECK(a.backend.length == b.backend.length && memcmp(a.backend.data, b.backend.data, a.backend.length) == 0);
        cache.policy_tag = ~(uint64_t)0; /* resolved by some other policy: re-resolved from the name */
        CHECK_STATUS(smi_policy_select_backend(&c, policy, scratch, &r), SMI_OK);
        CHECK(cache.policy_tag == filled.policy_tag && cache.index == filled.index);
        CHECK(equals(c.traffic_split, "shop/web-rollout"));

        smi_split_request *v0 = malloc(SMI_SPLIT_REQUEST_SIZE_V0);
        CHECK(v0 != NULL);
        if (v0 != NULL) {
            r = good_split();
            r.size = (uint32_t)SMI_SPLIT_REQUEST_SIZE_V0;
            memcpy(v0, &r, SMI_SPLIT_REQUEST_SIZE_V0);
            smi_split_decision e = fresh_split_decision();
            CHECK_STATUS(smi_policy_select_backend(&e, policy, scratch, v0), SMI_OK);
            CHECK(e.backend.length == a.backend.length && memcmp(e.backend.data, a.backend.data, a.backend.length) == 0);
            CHECK_STATUS(smi_holder_select_backend(&e, holder, scratch, v0), SMI_OK);
            v0->size = (uint32_t)SMI_SPLIT_REQUEST_SIZE_V0 - 1;
            CHECK_STATUS(smi_policy_select_backend(&e, policy, scratch, v0), SMI_ERROR_INVALID_ARGUMENT);
            free(v0);
        }
    }

    /* no split: the answer is request->service itself */
    r = good_split();
    r.service = S("shop/unsplit");
    d = fresh_split_decision();
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_OK);
    CHECK(d.backend.data == r.service.data && d.backend.length == r.service.length);
    CHECK(is_null_string(d.traffic_split));

    r = good_split();
    CHECK_STATUS(smi_policy_select_backend(NULL, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_select_backend(&d, NULL, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_select_backend(&d, policy, NULL, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, NULL), SMI_ERROR_INVALID_ARGUMENT);
    d.size = 0;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d.size = 4;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_split_decision();
    CHECK_STATUS(smi_policy_select_backend(&d, (const smi_policy *)scratch, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_policy_select_backend(&d, (const smi_policy *)holder, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_policy_select_backend(&d, policy, (smi_scratch *)policy, &r), SMI_ERROR_WRONG_HANDLE);

    r.size = 0;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r.size = 8;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r = good_split();
    r.reserved = 1;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r = good_split();
    r.service.data = NULL;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r = good_split();
    r.flags = SMI_SPLIT_HAS_PORT;
    r.port = 65536;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r.port = 80;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_OK);
    r = good_split();
    r.flags = SMI_SPLIT_HAS_METHOD | SMI_SPLIT_HAS_TARGET;
    r.method.data = NULL;
    r.method.length = 3;
    r.target = S("/");
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r.method = S("GET");
    r.target.data = NULL;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r.target = S("/");
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_OK);

    r = good_split();
    r.header_count = 2;
    CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    smi_header *many = calloc(SMI_MAX_HEADERS + 1, sizeof *many);
    CHECK(many != NULL);
    if (many != NULL) {
        for (size_t i = 0; i <= SMI_MAX_HEADERS; i++) {
            many[i].name = S("x-filler");
            many[i].value = S("v");
        }
        r.headers = many;
        r.header_count = SMI_MAX_HEADERS + 1;
        CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_LIMIT);
        r.header_count = SMI_MAX_HEADERS;
        CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_OK);
        free(many);
    }
    char *long_target = malloc(SMI_MAX_TARGET_LENGTH + 1);
    CHECK(long_target != NULL);
    if (long_target != NULL) {
        memset(long_target, 'a', SMI_MAX_TARGET_LENGTH + 1);
        long_target[0] = '/';
        r = good_split();
        r.flags = SMI_SPLIT_HAS_TARGET;
        r.target.data = long_target;
        r.target.length = SMI_MAX_TARGET_LENGTH + 1;
        CHECK_STATUS(smi_policy_select_backend(&d, policy, scratch, &r), SMI_ERROR_LIMIT);
        free(long_target);
    }
}

/* ---- holders --------------------------------------------------------------------------------- */

static void test_holder(smi_policy *policy, smi_scratch *scratch) {
    smi_holder *holder = NULL;
    smi_access_request r = good_access();
    smi_split_request s = good_split();
    smi_access_decision d = fresh_decision();
    smi_split_decision sd = fresh_split_decision();

    CHECK_STATUS(smi_holder_create(NULL, policy), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_create(&holder, (smi_policy *)scratch), SMI_ERROR_WRONG_HANDLE);
    CHECK(holder == NULL);

    /* an empty holder: no policy */
    CHECK_STATUS(smi_holder_create(&holder, NULL), SMI_OK);
    CHECK(holder != NULL);
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_NO_POLICY);
    CHECK(d.allowed == 0);
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, &s), SMI_ERROR_NO_POLICY);
    CHECK(smi_holder_acquire(holder, scratch) == NULL);

    /* swap: bad arguments */
    CHECK_STATUS(smi_holder_swap(NULL, policy), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_swap(holder, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_swap(holder, (smi_policy *)scratch), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_holder_swap(holder, (smi_policy *)holder), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_holder_swap((smi_holder *)policy, policy), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_holder_swap((smi_holder *)scratch, policy), SMI_ERROR_WRONG_HANDLE);

    /* the holder keeps its own reference: our copy may go */
    smi_policy *mine = smi_policy_retain(policy);
    CHECK(mine == policy);
    CHECK_STATUS(smi_holder_swap(holder, mine), SMI_OK);
    smi_policy_release(mine);

    d = fresh_decision();
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1 && equals(d.traffic_target, "shop/frontend-to-orders") && equals(d.match, "read"));
    CHECK(equals(d.rule_kind, "HTTPRouteGroup") && equals(d.normalized_path, "/orders/42"));
    sd = fresh_split_decision();
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, &s), SMI_OK);
    CHECK(equals(sd.backend, "shop/web-v1") || equals(sd.backend, "shop/web-v2"));
    CHECK(equals(sd.traffic_split, "shop/web-rollout"));

    smi_policy *acquired = smi_holder_acquire(holder, scratch);
    CHECK(acquired != NULL);
    if (acquired != NULL) {
        d = fresh_decision();
        CHECK_STATUS(smi_policy_decide_access(&d, acquired, scratch, &r), SMI_OK);
        CHECK(d.allowed == 1);
        smi_policy_release(acquired);
    }
    CHECK(smi_holder_acquire(NULL, scratch) == NULL);
    CHECK(smi_holder_acquire(holder, NULL) == NULL);
    CHECK(smi_holder_acquire((smi_holder *)policy, scratch) == NULL);
    CHECK(smi_holder_acquire((smi_holder *)scratch, scratch) == NULL);
    CHECK(smi_holder_acquire(holder, (smi_scratch *)policy) == NULL);

    /* decide through the holder: bad arguments */
    CHECK_STATUS(smi_holder_decide_access(NULL, holder, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_decision();
    CHECK_STATUS(smi_holder_decide_access(&d, NULL, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(d.allowed == 0);
    CHECK_STATUS(smi_holder_decide_access(&d, holder, NULL, &r), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, NULL), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_decision();
    CHECK_STATUS(smi_holder_decide_access(&d, (smi_holder *)policy, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK(d.allowed == 0);
    CHECK_STATUS(smi_holder_decide_access(&d, (smi_holder *)scratch, scratch, &r), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_holder_decide_access(&d, holder, (smi_scratch *)holder, &r), SMI_ERROR_WRONG_HANDLE);
    d.size = 4;
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    d = fresh_decision();
    r.size = 4;
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.protocol = 9;
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    r = good_access();
    r.header_count = 1; /* and NULL headers */
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_INVALID_ARGUMENT);
    {
        /* a cache resolved by another policy, without a name */
        smi_policy *other = compile_text("other.yaml", other_yaml, sizeof other_yaml - 1);
        smi_identity stale = {0};
        CHECK_STATUS(smi_identity_resolve(&stale, other, S("shop/frontend")), SMI_OK);
        r = good_access();
        r.source = &stale;
        r.source_name.data = NULL;
        r.source_name.length = 0;
        CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_ERROR_STALE_IDENTITY);
        smi_policy_release(other);
    }

    CHECK_STATUS(smi_holder_select_backend(NULL, holder, scratch, &s), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_select_backend(&sd, NULL, scratch, &s), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, NULL, &s), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, NULL), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_holder_select_backend(&sd, (smi_holder *)policy, scratch, &s), SMI_ERROR_WRONG_HANDLE);
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, (smi_scratch *)policy, &s), SMI_ERROR_WRONG_HANDLE);
    sd.size = 0;
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, &s), SMI_ERROR_INVALID_ARGUMENT);
    sd = fresh_split_decision();
    s.size = 0;
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, &s), SMI_ERROR_INVALID_ARGUMENT);
    s = good_split();
    s.service = S("shop/unsplit");
    CHECK_STATUS(smi_holder_select_backend(&sd, holder, scratch, &s), SMI_OK);
    CHECK(equals(sd.backend, "shop/unsplit") && is_null_string(sd.traffic_split));

    /* the holder's decision strings live in the scratch: still readable after the policy that
     * made them is swapped out and released */
    smi_policy *other = compile_text("other.yaml", other_yaml, sizeof other_yaml - 1);
    CHECK(other != NULL);
    d = fresh_decision();
    r = good_access();
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_OK);
    if (other != NULL) {
        CHECK_STATUS(smi_holder_swap(holder, other), SMI_OK);
        smi_policy_release(other);
    }
    CHECK(equals(d.traffic_target, "shop/frontend-to-orders"));
    smi_access_decision after = fresh_decision();
    CHECK_STATUS(smi_holder_decide_access(&after, holder, scratch, &r), SMI_OK);
    CHECK(after.allowed == 0 && after.reason == SMI_REASON_NO_TRAFFIC_TARGET);

    smi_holder_free(holder);
    smi_holder_free(NULL);

    /* a holder created with a policy */
    CHECK_STATUS(smi_holder_create(&holder, policy), SMI_OK);
    d = fresh_decision();
    r = good_access();
    CHECK_STATUS(smi_holder_decide_access(&d, holder, scratch, &r), SMI_OK);
    CHECK(d.allowed == 1);
    smi_holder_free(holder);
}

/* ---- references and freeing ------------------------------------------------------------------ */

static void test_references(void) {
    CHECK(smi_policy_retain(NULL) == NULL);
    smi_policy_release(NULL);
    smi_scratch_free(NULL);
    smi_diagnostics_free(NULL);
    smi_holder_free(NULL);

    smi_policy *policy = compile_text("policy.yaml", policy_yaml, sizeof policy_yaml - 1);
    CHECK(policy != NULL);
    if (policy == NULL) return;
    /* strings borrowed from the policy live while any reference does */
    CHECK(smi_policy_retain(policy) == policy);
    CHECK(smi_policy_retain(policy) == policy);
    smi_scratch *scratch = NULL;
    CHECK_STATUS(smi_scratch_create(&scratch), SMI_OK);
    smi_access_request r = good_access();
    smi_access_decision d = fresh_decision();
    CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
    smi_policy_release(policy);
    smi_policy_release(policy);
    CHECK(equals(d.traffic_target, "shop/frontend-to-orders"));
    smi_policy_release(policy);
    smi_scratch_free(scratch);

    /* a scratch works with any policy, many scratches at once */
    smi_scratch *scratches[8];
    for (int i = 0; i < 8; i++) CHECK_STATUS(smi_scratch_create(&scratches[i]), SMI_OK);
    for (int i = 0; i < 8; i++) smi_scratch_free(scratches[i]);
}

/* ---- bundles -------------------------------------------------------------------------------- */

/* CRC-32C (Castagnoli), bitwise: docs/BUNDLE.md "Checksum". */
static uint32_t crc32c(const uint8_t *bytes, size_t length) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; i++) {
        crc ^= bytes[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static void put32(uint8_t *at, uint32_t value) {
    for (int i = 0; i < 4; i++) at[i] = (uint8_t)(value >> (8 * i));
}

#define BUNDLE_LENGTH 352

/* A bundle written by hand from docs/BUNDLE.md alone (a second writer): options, empty tables,
 * code `DENY port-not-allowed; ROOT`, access entry 0, split entry 2. */
static void make_bundle(uint8_t out[BUNDLE_LENGTH]) {
    memset(out, 0, BUNDLE_LENGTH);
    static const uint8_t magic[8] = {0x53, 0x4D, 0x49, 0x42, 0x0D, 0x0A, 0x1A, 0x0A};
    memcpy(out, magic, 8);
    put32(out + 8, 2);              /* format version */
    put32(out + 12, 64);            /* header length */
    put32(out + 16, BUNDLE_LENGTH); /* total length */
    put32(out + 24, 11);            /* sections */
    memcpy(out + 32, "arg_checks", 10);
    /* kind: offset, length (every section starts at a multiple of 8) */
    static const uint32_t sections[11][3] = {
        {1, 240, 20}, {2, 264, 4}, {3, 272, 4}, {4, 280, 4}, {5, 288, 4}, {6, 296, 4},
        {7, 304, 4}, {8, 312, 16}, {9, 328, 4}, {10, 336, 8}, {11, 344, 4},
    };
    for (int i = 0; i < 11; i++) {
        uint8_t *entry = out + 64 + 16 * i;
        put32(entry, sections[i][0]);
        put32(entry + 8, sections[i][1]);
        put32(entry + 12, sections[i][2]);
    }
    put32(out + 240, 0);          /* options: flags */
    put32(out + 244, 0x1F);       /* normalization */
    put32(out + 248, 100000);     /* match limit */
    put32(out + 252, 10000);      /* depth limit */
    put32(out + 312, 3);          /* code: 3 words */
    put32(out + 316, 8u | 1u << 8);  /* DENY, 1 operand */
    put32(out + 320, 3);          /* port-not-allowed */
    put32(out + 324, 13);         /* ROOT */
    put32(out + 336, 0);          /* access entry */
    put32(out + 340, 2);          /* split entry */
    put32(out + 20, crc32c(out, BUNDLE_LENGTH));
}

/* The code of the only diagnostic, copied into `code` ("" when there is not exactly one). */
static void bundle_code(smi_diagnostics *diagnostics, char *code, size_t size) {
    code[0] = 0;
    smi_diagnostic d = {0};
    d.size = sizeof d;
    if (smi_diagnostics_count(diagnostics) == 1 && smi_diagnostics_get(diagnostics, 0, &d) == SMI_OK &&
        d.code.length < size) {
        memcpy(code, d.code.data, d.code.length);
        code[d.code.length] = 0;
    }
}

static void test_bundles(void) {
    uint8_t bundle[BUNDLE_LENGTH];
    make_bundle(bundle);
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;
    char code[64];

    CHECK_STATUS(smi_policy_load_bundle(NULL, NULL, bundle, sizeof bundle), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, NULL, 5), SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL && diagnostics == NULL);

    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, bundle, sizeof bundle), SMI_OK);
    CHECK(policy != NULL && smi_diagnostics_count(diagnostics) == 0);
    if (policy != NULL) {
        smi_scratch *scratch = NULL;
        CHECK_STATUS(smi_scratch_create(&scratch), SMI_OK);
        smi_access_request r = good_access();
        smi_access_decision d = fresh_decision();
        CHECK_STATUS(smi_policy_decide_access(&d, policy, scratch, &r), SMI_OK);
        CHECK(d.allowed == 0 && d.reason == SMI_REASON_PORT_NOT_ALLOWED);
        smi_scratch_free(scratch);
    }
    smi_policy_release(policy);
    smi_diagnostics_free(diagnostics);
    policy = NULL;
    diagnostics = NULL;

    /* every truncation, then every single-bit corruption: refused, never a policy */
    int truncations_refused = 0, corruptions_refused = 0;
    for (size_t length = 0; length < sizeof bundle; length++) {
        if (smi_policy_load_bundle(&policy, NULL, bundle, length) == SMI_ERROR_BUNDLE && policy == NULL) truncations_refused++;
        smi_policy_release(policy);
        policy = NULL;
    }
    CHECK(truncations_refused == (int)sizeof bundle);
    for (size_t at = 0; at < sizeof bundle; at++) {
        bundle[at] ^= 0x10;
        if (smi_policy_load_bundle(&policy, NULL, bundle, sizeof bundle) == SMI_ERROR_BUNDLE && policy == NULL) corruptions_refused++;
        smi_policy_release(policy);
        policy = NULL;
        bundle[at] ^= 0x10;
    }
    CHECK(corruptions_refused == (int)sizeof bundle);

    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, bundle, sizeof bundle - 1), SMI_ERROR_BUNDLE);
    bundle_code(diagnostics, code, sizeof code);
    CHECK(strcmp(code, "bundle-truncated") == 0);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    bundle[300] ^= 1;
    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, bundle, sizeof bundle), SMI_ERROR_BUNDLE);
    bundle_code(diagnostics, code, sizeof code);
    CHECK(strcmp(code, "bundle-checksum-mismatch") == 0);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    bundle[300] ^= 1;
    /* format version 1 (before the switches named their defaults), correctly checksummed: refused,
     * the message naming both versions */
    put32(bundle + 8, 1);
    put32(bundle + 20, 0);
    put32(bundle + 20, crc32c(bundle, sizeof bundle));
    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, bundle, sizeof bundle), SMI_ERROR_BUNDLE);
    bundle_code(diagnostics, code, sizeof code);
    CHECK(strcmp(code, "bundle-unsupported-version") == 0);
    CHECK(policy == NULL);
    {
        smi_diagnostic d = {0};
        d.size = sizeof d;
        CHECK(smi_diagnostics_get(diagnostics, 0, &d) == SMI_OK);
        char message[256] = {0};
        if (d.message.length < sizeof message) memcpy(message, d.message.data, d.message.length);
        CHECK(strstr(message, "version 1") != NULL && strstr(message, "version 2") != NULL);
    }
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    make_bundle(bundle);
    /* a backward jump with a valid checksum: the verifier refuses it */
    put32(bundle + 316, 9u | 1u << 8); /* JUMP */
    put32(bundle + 320, 0);            /* to itself */
    put32(bundle + 20, 0);
    put32(bundle + 20, crc32c(bundle, sizeof bundle));
    CHECK_STATUS(smi_policy_load_bundle(&policy, &diagnostics, bundle, sizeof bundle), SMI_ERROR_BUNDLE);
    bundle_code(diagnostics, code, sizeof code);
    CHECK(strcmp(code, "bundle-invalid-program") == 0);
    CHECK(policy == NULL);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    make_bundle(bundle);

    /* files */
    char dir[] = "/tmp/smi-arg-checks-bundle-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], missing[256];
    snprintf(path, sizeof path, "%s/policy.smib", dir);
    snprintf(missing, sizeof missing, "%s/missing.smib", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        fwrite(bundle, 1, sizeof bundle, f);
        fclose(f);
    }
    smi_string p_good = {path, strlen(path)}, p_missing = {missing, strlen(missing)}, p_null = {NULL, 4};
    CHECK_STATUS(smi_policy_load_bundle_file(NULL, NULL, p_good), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, NULL, p_null), SMI_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, NULL, (smi_string){NULL, 0}), SMI_ERROR_INVALID_ARGUMENT);
    static const char nul_path[] = "/tmp\0/x.smib";
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, NULL, ((smi_string){nul_path, sizeof nul_path - 1})),
                 SMI_ERROR_INVALID_ARGUMENT);
    CHECK(policy == NULL);
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, &diagnostics, p_good), SMI_OK);
    CHECK(policy != NULL);
    smi_policy_release(policy);
    smi_diagnostics_free(diagnostics);
    policy = NULL;
    diagnostics = NULL;
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, &diagnostics, p_missing), SMI_ERROR_BUNDLE);
    bundle_code(diagnostics, code, sizeof code);
    CHECK(strcmp(code, "io") == 0 && policy == NULL);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    /* a folder is no bundle */
    smi_string p_dir = {dir, strlen(dir)};
    CHECK_STATUS(smi_policy_load_bundle_file(&policy, &diagnostics, p_dir), SMI_ERROR_BUNDLE);
    CHECK(policy == NULL);
    smi_diagnostics_free(diagnostics);
    diagnostics = NULL;
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_versions_and_strings();
    test_references();
    test_compile();
    test_compile_paths();
    test_bundles();

    smi_policy *policy = compile_text("policy.yaml", policy_yaml, sizeof policy_yaml - 1);
    smi_scratch *scratch = NULL;
    smi_holder *holder = NULL;
    CHECK(policy != NULL);
    CHECK_STATUS(smi_scratch_create(&scratch), SMI_OK);
    CHECK_STATUS(smi_holder_create(&holder, policy), SMI_OK);
    if (policy != NULL && scratch != NULL && holder != NULL) {
        test_diagnostics(policy, scratch, holder);
        test_scratch_and_identities(policy, scratch, holder);
        test_access(policy, scratch, holder);
        test_stale_identities(policy, scratch);
        test_split(policy, scratch, holder);
        test_holder(policy, scratch);
    }
    smi_holder_free(holder);
    smi_scratch_free(scratch);
    smi_policy_release(policy);

    printf("arg_checks: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
