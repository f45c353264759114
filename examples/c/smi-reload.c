/*
 * smi-reload: hot reload while threads decide.
 *
 *     smi-reload [SWAPS]        (default 1000)
 *
 * Four threads decide continuously through an smi_holder, each with its own scratch and its own
 * identity caches (one "connection" per thread), while the main thread puts two policies in force
 * in turn, SWAPS times. The two policies answer one access request and one split request
 * differently; at the end every answer must have been one of the two policies' answers.
 *
 * What it shows:
 *   - a policy is compiled once and shared; a scratch belongs to one thread;
 *   - smi_holder_swap never blocks the deciding threads, which finish with the policy they
 *     started with;
 *   - an smi_identity resolved by the old policy is re-resolved from its name on the first
 *     request after a swap (the request carries both);
 *   - smi_holder_acquire gives a thread a reference of its own to the policy in force.
 */
#define _POSIX_C_SOURCE 200809L
#include <smi_engine.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4

/* Policy A lets shop/frontend GET /orders/N (match "read") and sends shop/web to web-v1. */
static const char policy_a[] =
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: HTTPRouteGroup\n"
    "metadata: {name: orders-routes, namespace: shop}\n"
    "spec:\n"
    "  matches:\n"
    "  - name: read\n"
    "    pathRegex: /orders/[0-9]+\n"
    "    methods: [GET]\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata: {name: frontend-to-orders, namespace: shop}\n"
    "spec:\n"
    "  destination: {kind: ServiceAccount, name: orders}\n"
    "  rules:\n"
    "  - {kind: HTTPRouteGroup, name: orders-routes}\n"
    "  sources:\n"
    "  - {kind: ServiceAccount, name: frontend}\n"
    "---\n"
    "apiVersion: split.smi-spec.io/v1alpha2\n"
    "kind: TrafficSplit\n"
    "metadata: {name: web-rollout, namespace: shop}\n"
    "spec:\n"
    "  service: web\n"
    "  backends:\n"
    "  - {service: web-v1, weight: 100}\n"
    "  - {service: web-v2, weight: 0}\n";

/* Policy B only lets shop/frontend POST, and sends shop/web to web-v2. */
static const char policy_b[] =
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: HTTPRouteGroup\n"
    "metadata: {name: orders-routes, namespace: shop}\n"
    "spec:\n"
    "  matches:\n"
    "  - name: write\n"
    "    pathRegex: /orders\n"
    "    methods: [POST]\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata: {name: frontend-to-orders, namespace: shop}\n"
    "spec:\n"
    "  destination: {kind: ServiceAccount, name: orders}\n"
    "  rules:\n"
    "  - {kind: HTTPRouteGroup, name: orders-routes}\n"
    "  sources:\n"
    "  - {kind: ServiceAccount, name: frontend}\n"
    "---\n"
    "apiVersion: split.smi-spec.io/v1alpha2\n"
    "kind: TrafficSplit\n"
    "metadata: {name: web-rollout, namespace: shop}\n"
    "spec:\n"
    "  service: web\n"
    "  backends:\n"
    "  - {service: web-v1, weight: 0}\n"
    "  - {service: web-v2, weight: 100}\n";

#define STR(literal) ((smi_string){literal, sizeof literal - 1})

static int equals(smi_string s, const char *literal) {
    return s.data != NULL && s.length == strlen(literal) && memcmp(s.data, literal, s.length) == 0;
}

static smi_holder *holder;
static atomic_int stop;
static atomic_ulong decisions; /* lets the main thread wait for decisions between swaps */
static atomic_int running;      /* deciding threads still running */

typedef struct counts {
    unsigned long access_a, access_b, split_a, split_b, acquired, unexpected, errors;
} counts;

/* Which policy gave this access answer: 'A', 'B', or 0 for neither. */
static char access_answer(const smi_access_decision *d) {
    if (d->allowed && d->reason == SMI_REASON_NONE && equals(d->traffic_target, "shop/frontend-to-orders") &&
        equals(d->rule_kind, "HTTPRouteGroup") && equals(d->match, "read")) {
        return 'A';
    }
    if (!d->allowed && d->reason == SMI_REASON_NO_ROUTE_MATCHED) return 'B';
    return 0;
}

static void *decide(void *argument) {
    counts *c = argument;
    smi_scratch *scratch = NULL;
    if (smi_scratch_create(&scratch) != SMI_OK) {
        c->errors++;
        atomic_fetch_sub(&running, 1);
        return NULL;
    }
    /* This thread's connection: its peer identities, resolved lazily and re-resolved by the
     * engine after each swap (the names stay in the request). */
    smi_identity source = {0}, destination = {0};
    smi_access_request access = {0};
    access.size = sizeof access;
    access.protocol = SMI_PROTOCOL_HTTP;
    access.port = 8080;
    access.source = &source;
    access.destination = &destination;
    access.source_name = STR("shop/frontend");
    access.destination_name = STR("shop/orders");
    access.method = STR("GET");
    access.target = STR("/orders/42");

    smi_split_request split = {0};
    split.size = sizeof split;
    split.service = STR("shop/web");

    for (unsigned long i = 0; !atomic_load(&stop); i++) {
        smi_access_decision d = {0};
        d.size = sizeof d;
        if (smi_holder_decide_access(&d, holder, scratch, &access) != SMI_OK) {
            c->errors++;
        } else {
            switch (access_answer(&d)) {
            case 'A': c->access_a++; break;
            case 'B': c->access_b++; break;
            default: c->unexpected++;
            }
        }

        smi_split_decision s = {0};
        s.size = sizeof s;
        split.entropy = i * 0x9E3779B97F4A7C15u;
        if (smi_holder_select_backend(&s, holder, scratch, &split) != SMI_OK) {
            c->errors++;
        } else if (equals(s.backend, "shop/web-v1") && equals(s.traffic_split, "shop/web-rollout")) {
            c->split_a++;
        } else if (equals(s.backend, "shop/web-v2") && equals(s.traffic_split, "shop/web-rollout")) {
            c->split_b++;
        } else {
            c->unexpected++;
        }

        /* Now and then, hold a policy of our own: it stays valid whatever is swapped meanwhile. */
        if (i % 16 == 0) {
            smi_policy *policy = smi_holder_acquire(holder, scratch);
            if (policy == NULL) {
                c->errors++;
            } else {
                smi_access_decision own = {0};
                own.size = sizeof own;
                if (smi_policy_decide_access(&own, policy, scratch, &access) != SMI_OK || access_answer(&own) == 0) {
                    c->unexpected++;
                }
                c->acquired++;
                smi_policy_release(policy);
            }
        }
        atomic_fetch_add(&decisions, 1);
    }
    smi_scratch_free(scratch);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

static smi_policy *compile(const char *name, const char *yaml) {
    smi_source source = {{name, strlen(name)}, {yaml, strlen(yaml)}};
    smi_policy *policy = NULL;
    smi_diagnostics *diagnostics = NULL;
    smi_status status = smi_policy_compile(&policy, &diagnostics, &source, 1, NULL);
    for (size_t i = 0; i < smi_diagnostics_count(diagnostics); i++) {
        smi_diagnostic d = {0};
        d.size = sizeof d;
        if (smi_diagnostics_get(diagnostics, i, &d) == SMI_OK) {
            fprintf(stderr, "%.*s\n", (int)d.text.length, d.text.data);
        }
    }
    smi_diagnostics_free(diagnostics);
    if (status != SMI_OK) fprintf(stderr, "smi-reload: %s: %s\n", name, smi_status_string(status));
    return policy;
}

int main(int argc, char **argv) {
    long swaps = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (swaps < 1) {
        fprintf(stderr, "usage: %s [SWAPS]\n", argv[0]);
        return 64;
    }
    smi_policy *a = compile("policy-a.yaml", policy_a);
    smi_policy *b = compile("policy-b.yaml", policy_b);
    if (a == NULL || b == NULL || smi_holder_create(&holder, a) != SMI_OK) {
        smi_policy_release(a);
        smi_policy_release(b);
        return 1;
    }

    pthread_t threads[THREADS];
    counts per_thread[THREADS];
    memset(per_thread, 0, sizeof per_thread);
    atomic_store(&running, THREADS);
    for (int t = 0; t < THREADS; t++) {
        if (pthread_create(&threads[t], NULL, decide, &per_thread[t]) != 0) {
            fprintf(stderr, "smi-reload: cannot start a thread\n");
            return 1;
        }
    }

    int failed_swaps = 0;
    for (long i = 0; i < swaps; i++) {
        /* Let the deciders make a few decisions with the policy in force before the next swap. */
        unsigned long seen = atomic_load(&decisions);
        while (atomic_load(&decisions) < seen + THREADS && atomic_load(&running) > 0) sched_yield();
        if (smi_holder_swap(holder, i % 2 == 0 ? b : a) != SMI_OK) failed_swaps++;
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    counts total = {0};
    for (int t = 0; t < THREADS; t++) {
        total.access_a += per_thread[t].access_a;
        total.access_b += per_thread[t].access_b;
        total.split_a += per_thread[t].split_a;
        total.split_b += per_thread[t].split_b;
        total.acquired += per_thread[t].acquired;
        total.unexpected += per_thread[t].unexpected;
        total.errors += per_thread[t].errors;
    }
    printf("swaps %ld (failed %d)\n", swaps, failed_swaps);
    printf("access: %lu answered as policy A, %lu as policy B\n", total.access_a, total.access_b);
    printf("split:  %lu answered as policy A, %lu as policy B\n", total.split_a, total.split_b);
    printf("acquired policies: %lu\n", total.acquired);
    printf("unexpected answers: %lu, errors: %lu\n", total.unexpected, total.errors);

    smi_holder_free(holder);
    smi_policy_release(a);
    smi_policy_release(b);

    int ok = failed_swaps == 0 && total.unexpected == 0 && total.errors == 0 && total.access_a > 0 &&
             total.access_b > 0 && total.split_a > 0 && total.split_b > 0;
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
