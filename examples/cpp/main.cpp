// main.cpp: the C++ wrapper in use: compile, decide, hot-swap, decide again.
#include "smi_engine.hpp"

#include <cstdio>
#include <iostream>
#include <string>

namespace {

// Version 1: prometheus may GET /metrics on api-service; website gets 90/10 to a canary.
constexpr std::string_view policy_v1 = R"(
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: api-routes, namespace: default}
spec:
  matches:
  - {name: metrics, pathRegex: /metrics, methods: [GET]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api-metrics, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api-service}
  rules:
  - {kind: HTTPRouteGroup, name: api-routes}
  sources:
  - {kind: ServiceAccount, name: prometheus}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: website-canary, namespace: default}
spec:
  service: website
  backends:
  - {service: website-v1, weight: 90}
  - {service: website-v2, weight: 10}
)";

// Version 2: /metrics also needs a header, and the canary takes all the traffic.
constexpr std::string_view policy_v2 = R"(
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: api-routes, namespace: default}
spec:
  matches:
  - name: metrics
    pathRegex: /metrics
    methods: [GET]
    headers: {x-scrape: "yes"}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api-metrics, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api-service}
  rules:
  - {kind: HTTPRouteGroup, name: api-routes}
  sources:
  - {kind: ServiceAccount, name: prometheus}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: website-canary, namespace: default}
spec:
  service: website
  backends:
  - {service: website-v1, weight: 0}
  - {service: website-v2, weight: 100}
)";

void print(const char *label, const smi::AccessDecision &d) {
    std::cout << label << ": ";
    if (d.allowed) {
        std::cout << "allowed by " << d.traffic_target << " (" << d.rule_kind << " match " << d.match << ")";
    } else {
        std::cout << "denied: " << d.reason_string();
    }
    if (!d.normalized_path.empty()) std::cout << ", path " << d.normalized_path;
    std::cout << "\n";
}

}  // namespace

int main() {
    if (smi_abi_version() != SMI_ABI_VERSION) {
        std::cerr << "libsmiengine has another ABI than this header\n";
        return 1;
    }
    try {
        // A policy with an error: CompileError carries every diagnostic.
        try {
            smi::Policy::compile({{"broken.yaml", "kind: HTTPRouteGroup\napiVersion: specs.smi-spec.io/v1alpha4\n"
                                                  "metadata: {name: r}\nspec:\n  matches:\n"
                                                  "  - {name: m, pathRegex: \"(\"}\n"}});
            std::cout << "broken.yaml compiled?!\n";
            return 1;
        } catch (const smi::CompileError &e) {
            std::cout << "broken.yaml: " << e.diagnostics().size() << " diagnostic(s), first error:\n  " << e.what()
                      << "\n";
        }

        smi::Policy v1 = smi::Policy::compile({{"v1.yaml", policy_v1}});
        smi::Policy v2 = smi::Policy::compile({{"v2.yaml", policy_v2}});
        smi::Scratch scratch;

        // One connection from prometheus to api-service: resolve both peers once.
        smi::Identity prometheus = v1.resolve("default/prometheus");
        smi::Identity api = v1.resolve("default/api-service");
        smi::AccessRequest scrape;
        scrape.source("default/prometheus", &prometheus)
            .destination("default/api-service", &api)
            .port(9090)
            .http("GET", "/metrics?format=text");
        print("v1 GET /metrics", v1.decide(scratch, scrape));

        smi::AccessRequest post = scrape;
        post.http("POST", "/metrics");
        print("v1 POST /metrics", v1.decide(scratch, post));

        smi::AccessRequest tcp;
        tcp.source("default/prometheus").destination("default/api-service").port(9090).tcp();
        print("v1 tcp", v1.decide(scratch, tcp));

        smi::SplitRequest web("default/website", 0);
        int canary = 0;
        for (std::uint64_t i = 0; i < 1000; i++) {
            web.entropy(i * 0x9E3779B97F4A7C15u);
            if (v1.select_backend(scratch, web).backend == "default/website-v2") canary++;
        }
        std::cout << "v1 website: " << canary << " of 1000 requests to the canary\n";

        // Hot reload: the holder serves v1, then v2. The connection's identity caches were
        // resolved by v1; the first decision with v2 re-resolves them from the names.
        smi::Holder holder(v1);
        print("holder (v1) GET /metrics", holder.decide(scratch, scrape));
        holder.swap(v2);
        print("holder (v2) GET /metrics", holder.decide(scratch, scrape));
        smi::AccessRequest with_header = scrape;
        with_header.header("X-Scrape", "yes");
        print("holder (v2) GET /metrics + x-scrape", holder.decide(scratch, with_header));
        smi::SplitDecision s = holder.select_backend(scratch, web);
        std::cout << "holder (v2) website: " << s.backend << " (split " << s.traffic_split << ")\n";

        // A reference of our own to the policy in force: it stays valid whatever is swapped next.
        smi::Policy in_force = holder.acquire(scratch);
        holder.swap(v1);
        print("acquired (v2) GET /metrics + x-scrape", in_force.decide(scratch, with_header));
        print("holder (v1 again) GET /metrics", holder.decide(scratch, scrape));
    } catch (const smi::Error &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
