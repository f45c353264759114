// header_cpp.cpp: smi_engine.h alone, compiled as strict C++17
// (-std=c++17 -Wall -Wextra -Werror -pedantic) and linked: the declarations have C linkage and
// the initializer macro and structs work from C++.
#include <smi_engine.h>

#include <cstddef>
#include <type_traits>

static_assert(std::is_standard_layout<smi_access_request>::value, "C layout");
static_assert(std::is_trivially_copyable<smi_identity>::value, "an identity cache is plain data");
static_assert(offsetof(smi_access_request, size) == 0, "access request leads with size");
static_assert(sizeof(smi_identity) == 16, "an identity cache is 16 bytes");

int main() {
    const smi_compile_options options = SMI_COMPILE_OPTIONS_INIT;
    smi_policy *policy = nullptr;
    smi_diagnostics *diagnostics = nullptr;
    // An empty policy, a scratch, one denied decision, and everything freed.
    if (smi_policy_compile(&policy, &diagnostics, nullptr, 0, &options) != SMI_OK) return 1;
    smi_scratch *scratch = nullptr;
    if (smi_scratch_create(&scratch) != SMI_OK) return 1;
    smi_access_request request{};
    request.size = sizeof request;
    request.protocol = SMI_PROTOCOL_TCP;
    request.port = 80;
    request.source_name = smi_string{"default/a", 9};
    request.destination_name = smi_string{"default/b", 9};
    smi_access_decision decision{};
    decision.size = sizeof decision;
    smi_status status = smi_policy_decide_access(&decision, policy, scratch, &request);
    smi_scratch_free(scratch);
    smi_diagnostics_free(diagnostics);
    smi_policy_release(policy);
    return status == SMI_OK && decision.allowed == 0 && decision.reason == SMI_REASON_NO_TRAFFIC_TARGET ? 0 : 1;
}
