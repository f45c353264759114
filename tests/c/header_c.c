/*
 * header_c.c: smi_engine.h alone, compiled as strict C11
 * (-std=c11 -Wall -Wextra -Werror -pedantic). It takes the address of every function, so that
 * linking it proves the library defines each one, and checks the layout promises of the ABI:
 * every caller-filled struct leads with its uint32_t size.
 */
#include <smi_engine.h>

#include <stddef.h>

_Static_assert(SMI_VERSION_NUMBER == SMI_VERSION_MAJOR * 1000000 + SMI_VERSION_MINOR * 1000 + SMI_VERSION_PATCH,
               "version number");
_Static_assert(offsetof(smi_compile_options, size) == 0, "options lead with size");
_Static_assert(offsetof(smi_diagnostic, size) == 0, "diagnostic leads with size");
_Static_assert(offsetof(smi_access_request, size) == 0, "access request leads with size");
_Static_assert(offsetof(smi_access_decision, size) == 0, "access decision leads with size");
_Static_assert(offsetof(smi_split_request, size) == 0, "split request leads with size");
_Static_assert(offsetof(smi_split_decision, size) == 0, "split decision leads with size");
_Static_assert(sizeof(smi_identity) == 16, "an identity cache is 16 bytes");
_Static_assert(sizeof(smi_status) == 4, "statuses are int32_t");
_Static_assert(SMI_NORMALIZE_ALL == (SMI_NORMALIZE_STRIP_QUERY | SMI_NORMALIZE_REJECT_UNSAFE |
                                     SMI_NORMALIZE_DECODE_UNRESERVED | SMI_NORMALIZE_MERGE_SLASHES |
                                     SMI_NORMALIZE_REMOVE_DOT_SEGMENTS),
               "normalization bits");

static const smi_compile_options default_options = SMI_COMPILE_OPTIONS_INIT;

/* Every function of the header, by address. */
static void (*const functions[])(void) = {
    (void (*)(void))smi_version,
    (void (*)(void))smi_abi_version,
    (void (*)(void))smi_status_string,
    (void (*)(void))smi_policy_compile,
    (void (*)(void))smi_policy_compile_paths,
    (void (*)(void))smi_policy_retain,
    (void (*)(void))smi_policy_release,
    (void (*)(void))smi_diagnostics_count,
    (void (*)(void))smi_diagnostics_error_count,
    (void (*)(void))smi_diagnostics_get,
    (void (*)(void))smi_diagnostics_free,
    (void (*)(void))smi_scratch_create,
    (void (*)(void))smi_scratch_free,
    (void (*)(void))smi_identity_resolve,
    (void (*)(void))smi_reason_string,
    (void (*)(void))smi_policy_decide_access,
    (void (*)(void))smi_policy_select_backend,
    (void (*)(void))smi_holder_create,
    (void (*)(void))smi_holder_swap,
    (void (*)(void))smi_holder_acquire,
    (void (*)(void))smi_holder_decide_access,
    (void (*)(void))smi_holder_select_backend,
    (void (*)(void))smi_holder_free,
};

int main(void) {
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        if (functions[i] == NULL) return 1;
    }
    if (default_options.size != sizeof(smi_compile_options)) return 1;
    return smi_version() == SMI_VERSION_NUMBER && smi_abi_version() == SMI_ABI_VERSION ? 0 : 1;
}
