#ifndef SMI_CPCRE2_SHIM_H
#define SMI_CPCRE2_SHIM_H
/* Swift cannot see PCRE2's width-generic macros; the module calls the _8 names. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Macros built from casts do not import into Swift. */
static const size_t smi_pcre2_unset = PCRE2_UNSET;
static const size_t smi_pcre2_zero_terminated = PCRE2_ZERO_TERMINATED;
#endif
