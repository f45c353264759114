// smi_engine.hpp: a small header-only C++17 wrapper over smi_engine.h.
//
//   smi::Policy   a compiled policy; copying it adds a reference (smi_policy_retain)
//   smi::Scratch  one thread's working memory; move-only
//   smi::Holder   the policy in force, swapped while other threads decide
//   smi::AccessRequest / smi::SplitRequest   request builders over std::string_view
//   smi::AccessDecision / smi::SplitDecision  results whose std::string_views are borrowed
//
// Compile errors throw smi::CompileError (with every diagnostic); any other failed status throws
// smi::Error. Nothing here allocates on the decision path except the request's header vector.
#ifndef SMI_ENGINE_HPP
#define SMI_ENGINE_HPP

#include <smi_engine.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smi {

inline smi_string c_string(std::string_view s) noexcept { return smi_string{s.data(), s.size()}; }

inline std::string_view view(smi_string s) noexcept {
    return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.length);
}

/// A failed call: the status and smi_status_string's text.
class Error : public std::runtime_error {
public:
    explicit Error(smi_status status, const std::string &what = std::string())
        : std::runtime_error(what.empty() ? smi_status_string(status) : what + ": " + smi_status_string(status)),
          status_(status) {}
    smi_status status() const noexcept { return status_; }

protected:
    struct Verbatim {};
    Error(smi_status status, const std::string &what, Verbatim) : std::runtime_error(what), status_(status) {}

private:
    smi_status status_;
};

inline void check(smi_status status, const char *what) {
    if (status != SMI_OK) throw Error(status, what);
}

/// One diagnostic, copied out of the smi_diagnostics object.
struct Diagnostic {
    int severity = SMI_SEVERITY_ERROR;  // SMI_SEVERITY_*
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string file, code, resource, field, message;
    std::string text;  // "FILE:LINE:COLUMN: error: RESOURCE: FIELD: MESSAGE"
};

/// Copies and frees `diagnostics`.
inline std::vector<Diagnostic> take_diagnostics(smi_diagnostics *diagnostics) {
    std::vector<Diagnostic> out;
    try {
        for (std::size_t i = 0, n = smi_diagnostics_count(diagnostics); i < n; i++) {
            smi_diagnostic d{};
            d.size = sizeof d;
            if (smi_diagnostics_get(diagnostics, i, &d) != SMI_OK) continue;
            Diagnostic copy;
            copy.severity = d.severity;
            copy.line = d.line;
            copy.column = d.column;
            copy.file = std::string(view(d.file));
            copy.code = std::string(view(d.code));
            copy.resource = std::string(view(d.resource));
            copy.field = std::string(view(d.field));
            copy.message = std::string(view(d.message));
            copy.text = std::string(view(d.text));
            out.push_back(std::move(copy));
        }
    } catch (...) {
        smi_diagnostics_free(diagnostics);
        throw;
    }
    smi_diagnostics_free(diagnostics);
    return out;
}

/// The policy has errors: what() is the first error's text, diagnostics() has all of them
/// (warnings and notes too).
class CompileError : public Error {
public:
    explicit CompileError(std::vector<Diagnostic> diagnostics)
        : Error(SMI_ERROR_COMPILE, first_error(diagnostics), Verbatim()), diagnostics_(std::move(diagnostics)) {}
    const std::vector<Diagnostic> &diagnostics() const noexcept { return diagnostics_; }

private:
    static std::string first_error(const std::vector<Diagnostic> &diagnostics) {
        for (const auto &d : diagnostics) {
            if (d.severity == SMI_SEVERITY_ERROR) return d.text;
        }
        return "the policy does not compile";
    }
    std::vector<Diagnostic> diagnostics_;
};

/// One named in-memory input; both views must outlive the compile call only.
struct Source {
    std::string_view name;
    std::string_view text;
};

/// Compile options (smi_compile_options); the trust domain view must outlive the compile call.
struct Options {
    smi_compile_options raw = SMI_COMPILE_OPTIONS_INIT;
    Options &full_path_match() { raw.flags |= SMI_COMPILE_FULL_PATH_MATCH; return *this; }
    Options &allow_cross_namespace() { raw.flags |= SMI_COMPILE_ALLOW_CROSS_NAMESPACE; return *this; }
    Options &normalization(std::uint32_t steps) { raw.normalization = steps; return *this; }
    Options &trust_domain(std::string_view domain) { raw.trust_domain = c_string(domain); return *this; }
};

using Identity = smi_identity;  // zero-initialize it ({}) for "not resolved yet"

/// "May this request pass?" The views must outlive the decision call; the identity caches (if
/// given) are written by it.
class AccessRequest {
public:
    AccessRequest() { raw_.size = sizeof raw_; }
    AccessRequest &source(std::string_view name, Identity *cache = nullptr) {
        raw_.source_name = c_string(name);
        raw_.source = cache;
        return *this;
    }
    AccessRequest &destination(std::string_view name, Identity *cache = nullptr) {
        raw_.destination_name = c_string(name);
        raw_.destination = cache;
        return *this;
    }
    AccessRequest &port(std::uint32_t port) { raw_.port = port; return *this; }
    AccessRequest &tcp() { raw_.protocol = SMI_PROTOCOL_TCP; return *this; }
    AccessRequest &udp() { raw_.protocol = SMI_PROTOCOL_UDP; return *this; }
    AccessRequest &http(std::string_view method, std::string_view target) {
        raw_.protocol = SMI_PROTOCOL_HTTP;
        raw_.method = c_string(method);
        raw_.target = c_string(target);
        return *this;
    }
    AccessRequest &header(std::string_view name, std::string_view value) {
        headers_.push_back(smi_header{c_string(name), c_string(value)});
        return *this;
    }
    /// The C request; valid until this object changes.
    const smi_access_request *c_request() const noexcept {
        raw_.headers = headers_.empty() ? nullptr : headers_.data();
        raw_.header_count = headers_.size();
        return &raw_;
    }

private:
    mutable smi_access_request raw_{};
    std::vector<smi_header> headers_;
};

/// "Which backend?" for a root service "namespace/name".
class SplitRequest {
public:
    explicit SplitRequest(std::string_view service, std::uint64_t entropy) {
        raw_.size = sizeof raw_;
        raw_.service = c_string(service);
        raw_.entropy = entropy;
    }
    SplitRequest &entropy(std::uint64_t entropy) { raw_.entropy = entropy; return *this; }
    SplitRequest &method(std::string_view method) {
        raw_.method = c_string(method);
        raw_.flags |= SMI_SPLIT_HAS_METHOD;
        return *this;
    }
    SplitRequest &target(std::string_view target) {
        raw_.target = c_string(target);
        raw_.flags |= SMI_SPLIT_HAS_TARGET;
        return *this;
    }
    SplitRequest &port(std::uint32_t port) {
        raw_.port = port;
        raw_.flags |= SMI_SPLIT_HAS_PORT;
        return *this;
    }
    SplitRequest &header(std::string_view name, std::string_view value) {
        headers_.push_back(smi_header{c_string(name), c_string(value)});
        return *this;
    }
    const smi_split_request *c_request() const noexcept {
        raw_.headers = headers_.empty() ? nullptr : headers_.data();
        raw_.header_count = headers_.size();
        return &raw_;
    }

private:
    mutable smi_split_request raw_{};
    std::vector<smi_header> headers_;
};

/// An access decision. The views are borrowed: from the policy (Policy::decide) or from the
/// scratch until its next decision (Holder::decide); normalized_path always from the scratch.
struct AccessDecision {
    bool allowed = false;
    int reason = SMI_REASON_NONE;  // SMI_REASON_*
    std::string_view traffic_target, rule_kind, match, normalized_path;
    const char *reason_string() const noexcept { return smi_reason_string(reason); }

    static AccessDecision from(const smi_access_decision &d) {
        return AccessDecision{d.allowed != 0, d.reason, view(d.traffic_target), view(d.rule_kind), view(d.match),
                              view(d.normalized_path)};
    }
};

/// A split decision; borrowed as AccessDecision (or from the request's service).
struct SplitDecision {
    std::string_view backend, traffic_split;
};

/// One thread's working memory; never used by two threads at once.
class Scratch {
public:
    Scratch() { check(smi_scratch_create(&raw_), "smi_scratch_create"); }
    Scratch(Scratch &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Scratch &operator=(Scratch &&other) noexcept {
        if (this != &other) {
            smi_scratch_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;
    ~Scratch() { smi_scratch_free(raw_); }
    smi_scratch *get() const noexcept { return raw_; }

private:
    smi_scratch *raw_ = nullptr;
};

/// A compiled, immutable policy shared by any number of threads. Copies share it.
class Policy {
public:
    Policy() noexcept = default;
    /// Takes over one reference to `raw`.
    explicit Policy(smi_policy *raw) noexcept : raw_(raw) {}
    Policy(const Policy &other) noexcept : raw_(smi_policy_retain(other.raw_)) {}
    Policy(Policy &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Policy &operator=(Policy other) noexcept {
        std::swap(raw_, other.raw_);
        return *this;
    }
    ~Policy() { smi_policy_release(raw_); }

    /// Compiles in-memory sources. Warnings go to *warnings when it is given.
    static Policy compile(const std::vector<Source> &sources, const Options &options = Options(),
                          std::vector<Diagnostic> *warnings = nullptr) {
        std::vector<smi_source> raw;
        raw.reserve(sources.size());
        for (const auto &s : sources) raw.push_back(smi_source{c_string(s.name), c_string(s.text)});
        smi_policy *policy = nullptr;
        smi_diagnostics *diagnostics = nullptr;
        smi_status status =
            smi_policy_compile(&policy, &diagnostics, raw.empty() ? nullptr : raw.data(), raw.size(), &options.raw);
        return finish(status, policy, diagnostics, warnings);
    }

    /// Compiles files and folders (read recursively for .yaml, .yml and .json).
    static Policy compile_paths(const std::vector<std::string_view> &paths, const Options &options = Options(),
                                std::vector<Diagnostic> *warnings = nullptr) {
        std::vector<smi_string> raw;
        raw.reserve(paths.size());
        for (auto p : paths) raw.push_back(c_string(p));
        smi_policy *policy = nullptr;
        smi_diagnostics *diagnostics = nullptr;
        smi_status status = smi_policy_compile_paths(&policy, &diagnostics, raw.empty() ? nullptr : raw.data(),
                                                     raw.size(), &options.raw);
        return finish(status, policy, diagnostics, warnings);
    }

    explicit operator bool() const noexcept { return raw_ != nullptr; }
    smi_policy *get() const noexcept { return raw_; }

    /// Resolves a peer once per connection ("namespace/name" or a SPIFFE id).
    Identity resolve(std::string_view name) const {
        Identity identity{};
        check(smi_identity_resolve(&identity, raw_, c_string(name)), "smi_identity_resolve");
        return identity;
    }

    AccessDecision decide(Scratch &scratch, const AccessRequest &request) const {
        smi_access_decision d{};
        d.size = sizeof d;
        check(smi_policy_decide_access(&d, raw_, scratch.get(), request.c_request()), "smi_policy_decide_access");
        return AccessDecision::from(d);
    }

    SplitDecision select_backend(Scratch &scratch, const SplitRequest &request) const {
        smi_split_decision d{};
        d.size = sizeof d;
        check(smi_policy_select_backend(&d, raw_, scratch.get(), request.c_request()), "smi_policy_select_backend");
        return SplitDecision{view(d.backend), view(d.traffic_split)};
    }

private:
    static Policy finish(smi_status status, smi_policy *policy, smi_diagnostics *diagnostics,
                         std::vector<Diagnostic> *warnings) {
        Policy result(policy);  // owns the reference before anything can throw
        std::vector<Diagnostic> all = take_diagnostics(diagnostics);
        if (status == SMI_ERROR_COMPILE) throw CompileError(std::move(all));
        check(status, "compiling the policy");
        if (warnings != nullptr) *warnings = std::move(all);
        return result;
    }

    smi_policy *raw_ = nullptr;
};

/// The policy in force for a running proxy: decide through it, swap it on reload.
class Holder {
public:
    explicit Holder(const Policy &initial = Policy()) { check(smi_holder_create(&raw_, initial.get()), "smi_holder_create"); }
    Holder(Holder &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Holder &operator=(Holder &&other) noexcept {
        if (this != &other) {
            smi_holder_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Holder(const Holder &) = delete;
    Holder &operator=(const Holder &) = delete;
    ~Holder() { smi_holder_free(raw_); }

    /// Puts `policy` in force; deciding threads finish with the policy they started with.
    void swap(const Policy &policy) { check(smi_holder_swap(raw_, policy.get()), "smi_holder_swap"); }

    /// The policy in force (empty when there is none).
    Policy acquire(Scratch &scratch) const { return Policy(smi_holder_acquire(raw_, scratch.get())); }

    /// The decision's views point into `scratch` and stay valid until its next decision.
    AccessDecision decide(Scratch &scratch, const AccessRequest &request) const {
        smi_access_decision d{};
        d.size = sizeof d;
        check(smi_holder_decide_access(&d, raw_, scratch.get(), request.c_request()), "smi_holder_decide_access");
        return AccessDecision::from(d);
    }

    SplitDecision select_backend(Scratch &scratch, const SplitRequest &request) const {
        smi_split_decision d{};
        d.size = sizeof d;
        check(smi_holder_select_backend(&d, raw_, scratch.get(), request.c_request()), "smi_holder_select_backend");
        return SplitDecision{view(d.backend), view(d.traffic_split)};
    }

    smi_holder *get() const noexcept { return raw_; }

private:
    smi_holder *raw_ = nullptr;
};

}  // namespace smi

#endif  // SMI_ENGINE_HPP
